# Peak RSS against concurrency (4 KiB books, 500 ms delay): run as `gnuplot rss_vs_concurrency.gp` in this directory.
set datafile missing "NaN"
set title "Peak RSS against concurrency (4 KiB books, 500 ms delay) (2 cores, 2026-12-02, medians)" noenhanced
set xlabel "concurrent transfers (-j = books)" noenhanced
set ylabel "peak RSS, MB" noenhanced
set key top left
set grid
set xrange [0:*]
set yrange [0:*]
set terminal pngcairo size 900,560 noenhanced
set output "rss_vs_concurrency.png"
plot for [i=2:3] "rss_vs_concurrency.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i), 11.1716 + 0.0207946 * x with lines dt 2 lc 1 title "loop fit: 21.3 KB per transfer", 10.9536 + 0.0497109 * x with lines dt 2 lc 2 title "threads fit: 50.9 KB per transfer"
set terminal svg size 900,560 dynamic noenhanced
set output "rss_vs_concurrency.svg"
replot
