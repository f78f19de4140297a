// Package report turns what a run does into what people and CI systems read:
// the live view of a run on a terminal (Live), which redraws one line per
// statement and block in place and cuts every line to the terminal's width,
// the plain progress lines for a pipe or a CI log (Console), in which every
// task is named uniquely, and JUnit XML (WriteJUnit), which CI systems show
// natively.
package report
