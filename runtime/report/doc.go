// Package report turns what a run does into what people and CI systems read:
// the human progress lines on a terminal or in a log (Console) and JUnit XML
// (WriteJUnit), which CI systems show natively.
package report
