-- Rows read from the landing day just staged, by fate: accepted (reason NULL) or quarantined.
SELECT coalesce(reason, 'accepted') AS fate, count(*) AS n
FROM staged
GROUP BY ALL
ORDER BY n DESC, fate;
