# Throughput against bandwidth per connection: run as `gnuplot throughput_vs_bandwidth.gp` in this directory.
set datafile missing "NaN"
set title "Throughput against bandwidth per connection (2 cores, 2026-12-02, medians)" noenhanced
set xlabel "bandwidth per connection" noenhanced
set ylabel "MB/s" noenhanced
set key top left
set grid
set offsets 0.3, 0.3, 0, 0
set logscale y
set terminal pngcairo size 900,560 noenhanced
set output "throughput_vs_bandwidth.png"
plot for [i=2:4] "throughput_vs_bandwidth.dat" using 0:i:xtic(1) with linespoints lw 2 pt 7 title columnheader(i)
set terminal svg size 900,560 dynamic noenhanced
set output "throughput_vs_bandwidth.svg"
replot
