# Throughput against first-byte latency: run as `gnuplot throughput_vs_latency.gp` in this directory.
set datafile missing "NaN"
set title "Throughput against first-byte latency (2 cores, 2026-12-02, medians)" noenhanced
set xlabel "first-byte delay, ms" noenhanced
set ylabel "MB/s" noenhanced
set key top left
set grid
set offsets 0.3, 0.3, 0, 0
set logscale y
set terminal pngcairo size 900,560 noenhanced
set output "throughput_vs_latency.png"
plot for [i=2:4] "throughput_vs_latency.dat" using 0:i:xtic(1) with linespoints lw 2 pt 7 title columnheader(i)
set terminal svg size 900,560 dynamic noenhanced
set output "throughput_vs_latency.svg"
replot
