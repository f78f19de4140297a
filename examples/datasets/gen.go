//go:build ignore

// gen writes the example data sets in this directory. They are committed;
// run it again only to change them:
//
//	cd examples/datasets && go run gen.go
//
// The numbers come from a fixed seed, so the output is the same every time.
//
//	houses.csv, houses-test.csv    sqm, rooms, age, price (k€), rent (k€/month): two labels for one X
//	train-X.csv, train-price.csv, train-rent.csv, test-X.csv, test-price.csv, test-rent.csv
//	                               the same rows split into X and one file per label
//	iris.csv, iris-test.csv        an iris-like set: four measurements and species 0, 1, 2
//	iris-X.csv, iris-Y.csv, iris-test-X.csv, iris-test-Y.csv
package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
)

func main() {
	rng := rand.New(rand.NewPCG(2026, 5))
	houses := func(n int) [][]string {
		var rows [][]string
		for range n {
			sqm := 30 + rng.Float64()*120
			rooms := math.Max(1, math.Min(6, math.Round(sqm/30+rng.NormFloat64()*0.6)))
			age := math.Round(rng.Float64() * 60)
			price := 50 + 3.2*sqm + 12*rooms - 0.8*age + rng.NormFloat64()*15
			rent := 0.4 + 0.011*sqm + 0.05*rooms - 0.004*age + rng.NormFloat64()*0.08
			rows = append(rows, []string{f1(sqm), f0(rooms), f0(age), f1(price), f2(rent)})
		}
		return rows
	}
	hHeader := []string{"sqm", "rooms", "age", "price", "rent"}
	split("houses", hHeader, houses(40), houses(12), []int{0, 1, 2}, map[string]int{"price": 3, "rent": 4}, "train", "test")

	type species struct{ mean, sd [4]float64 }
	kinds := []species{
		{[4]float64{5.0, 3.4, 1.5, 0.25}, [4]float64{0.35, 0.38, 0.17, 0.1}},
		{[4]float64{5.9, 2.8, 4.3, 1.3}, [4]float64{0.5, 0.3, 0.45, 0.2}},
		{[4]float64{6.6, 3.0, 5.5, 2.0}, [4]float64{0.6, 0.3, 0.5, 0.27}},
	}
	iris := func(perKind int) [][]string {
		var rows [][]string
		for i := range perKind * len(kinds) {
			k := i % len(kinds) // interleaved, so any prefix has every species
			var r []string
			for j := range 4 {
				r = append(r, f1(math.Max(0.1, kinds[k].mean[j]+rng.NormFloat64()*kinds[k].sd[j])))
			}
			rows = append(rows, append(r, f0(float64(k))))
		}
		return rows
	}
	iHeader := []string{"sepal_length", "sepal_width", "petal_length", "petal_width", "species"}
	split("iris", iHeader, iris(15), iris(5), []int{0, 1, 2, 3}, map[string]int{"Y": 4}, "iris", "iris-test")
}

// split writes NAME.csv and NAME-test.csv with every column, TRAIN-X.csv and
// TEST-X.csv with the feature columns, and TRAIN-LABEL.csv, TEST-LABEL.csv
// with one label each.
func split(name string, header []string, train, test [][]string, features []int, labels map[string]int, trainPrefix, testPrefix string) {
	write(name+".csv", header, train, nil)
	write(name+"-test.csv", header, test, nil)
	write(trainPrefix+"-X.csv", header, train, features)
	write(testPrefix+"-X.csv", header, test, features)
	for label, col := range labels {
		write(trainPrefix+"-"+label+".csv", header, train, []int{col})
		write(testPrefix+"-"+label+".csv", header, test, []int{col})
	}
}

func write(file string, header []string, rows [][]string, cols []int) {
	pick := func(r []string) string {
		if cols == nil {
			return strings.Join(r, ",")
		}
		var out []string
		for _, c := range cols {
			out = append(out, r[c])
		}
		return strings.Join(out, ",")
	}
	var b strings.Builder
	b.WriteString(pick(header) + "\n")
	for _, r := range rows {
		b.WriteString(pick(r) + "\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
