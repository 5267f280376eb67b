# Wall time against concurrency: run as `gnuplot wall_vs_concurrency.gp` in this directory.
set datafile missing "NaN"
set title "Wall time against concurrency (2 cores, 2026-12-02, medians)" noenhanced
set xlabel "concurrent transfers (-j); serial measured once (it ignores -j), drawn flat" noenhanced
set ylabel "wall time, s" noenhanced
set key top left
set grid
set logscale x
set autoscale xfix
set offsets graph 0.03, graph 0.03, 0, 0
set logscale y
set terminal pngcairo size 900,560 noenhanced
set output "wall_vs_concurrency.png"
plot for [i=2:4] "wall_vs_concurrency.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i)
set terminal svg size 900,560 dynamic noenhanced
set output "wall_vs_concurrency.svg"
replot
