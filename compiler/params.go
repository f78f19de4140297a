package compiler

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/ompdev/omp/lang"
)

// override applies -p values, in name order so that errors come out in a
// stable order. A value must fit the type of the param's declared value
// (see overrideValue).
func (c *compiler) override(raw map[string]string) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	names := make([]string, 0, len(c.params))
	for n := range c.params {
		names = append(names, n)
	}
	for _, k := range keys {
		p, ok := c.params[k]
		if !ok {
			c.errorf(c.filePos(), "-p %s: no param %s is declared%s", paramName(k), paramName(k), didYouMean(k, names))
			continue
		}
		v, err := overrideValue(raw[k], p.typ)
		if err != nil {
			c.errorf(c.filePos(), "-p %s: param %s is %s, not %s", paramName(k), k, article(p.typ), err)
			continue
		}
		p.value = v
		c.values[k] = v
	}
}

// overrideValue reads a -p value for a param whose declared value has type
// typ. The text is an omp literal only when the whole of it is one literal,
// with no comment: `-p n=5` is the integer 5, while `-p 't=1 #1'` is the
// string "1 #1", not 1. Anything else is a plain string, so `-p name=hello`
// needs no quotes. The value must then fit typ: an integer param takes an
// integer, a float param an integer or a float (made a float), a string
// param any text, a null param anything, and every other param a value of
// its own type. When it does not fit, the error is the value's type with an
// article ("a string \"abc\"").
func overrideValue(raw, typ string) (any, error) {
	var x any = raw
	xtyp := "string"
	if v := onlyLiteral(raw); v != nil {
		sub := &compiler{file: "-p"}
		if lit := sub.literal(v, "a -p value"); len(sub.errs) == 0 {
			x, xtyp = lit, valueType(v)
		}
	}
	switch {
	case typ == xtyp, typ == "null":
		return x, nil
	case typ == "string":
		return raw, nil
	case typ == "float" && xtyp == "integer":
		return float64(x.(int64)), nil
	}
	if xtyp == "null" {
		return nil, fmt.Errorf("null")
	}
	return nil, fmt.Errorf("%s %s", article(xtyp), quoteShort(raw))
}

// onlyLiteral parses text as one omp value, and returns nil unless the
// value is all of the text: a comment (`1 #1`) would drop what follows it.
func onlyLiteral(text string) *lang.Value {
	toks, errs := lang.Lex("", []byte(text))
	if len(errs) > 0 {
		return nil
	}
	covered := make([]bool, len(text))
	for _, t := range toks {
		for i := t.Pos.Offset; i < t.Pos.Offset+len(t.Value) && i < len(text); i++ {
			covered[i] = true
		}
	}
	for i, b := range []byte(text) {
		if b == '#' && !covered[i] {
			return nil
		}
	}
	v, err := lang.ParseValue(text)
	if err != nil {
		return nil
	}
	return v
}

// valueType names the type of a literal as messages say it.
func valueType(v *lang.Value) string {
	switch {
	case v == nil:
		return "null"
	case v.Str != nil:
		return "string"
	case v.Int != nil:
		return "integer"
	case v.Float != nil:
		return "float"
	case v.Duration != nil:
		return "duration"
	case v.Bool != nil:
		return "bool"
	case v.List != nil:
		return "list"
	case v.Map != nil:
		return "map"
	case v.Name != nil:
		return "name"
	}
	return "null"
}

func article(typ string) string {
	switch typ {
	case "integer":
		return "an integer"
	case "null":
		return "null"
	}
	return "a " + typ
}

// quoteShort quotes a -p value for a message, cut short if it is long.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// paramName prints a -p name as it is when it could be declared, and
// quoted when not, so that `-p 'n =5'` shows its space.
func paramName(name string) string {
	toks, errs := lang.Lex("", []byte(name))
	if len(errs) == 0 && len(toks) == 2 && toks[0].Type == lang.TokIdent && toks[0].Value == name {
		return name
	}
	return strconv.Quote(name)
}
