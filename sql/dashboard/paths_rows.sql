-- Page-class transitions per day and step, for the paths Sankey (summed over the chosen dates).
SELECT
    dt,
    step,
    from_page_class,
    to_page_class,
    sessions
FROM paths_daily
ORDER BY dt, step, from_page_class, to_page_class
