package compiler

import (
	"sort"
	"strings"
)

// suggest returns the candidate closest to name by edit distance, if it is
// closer than 3 edits (as hcl's didyoumean), or "".
func suggest(name string, candidates []string) string {
	best, bestD := "", 3
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if c == name {
			continue
		}
		// Two edits turn any two-letter name into any other: a hint must
		// keep more of the name than it changes.
		if d := levenshtein(name, c); d < bestD && d < len(name) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean formats suggest's answer as a hint to append to a message.
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return " (did you mean " + s + "?)"
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// hintOrList suggests the closest of a short list of choices, or when none
// is close, lists them all.
func hintOrList(name string, choices []string, what string) string {
	if s := suggest(name, choices); s != "" {
		return " (did you mean " + s + "?)"
	}
	return " (" + what + ": " + strings.Join(choices, ", ") + ")"
}
