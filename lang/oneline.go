package lang

import "github.com/alecthomas/participle/v2/lexer"

// OneLiner returns a function that prints a statement (a let or a chain) or
// a block of f on one line, as Format prints it where it fits, literals as
// written: for progress displays, which cut it to the screen. It prints ""
// for anything else, and for a File that Parse did not make.
func (f *File) OneLiner() func(x any) string {
	var toks []lexer.Token
	if f.src != nil {
		toks, _ = Lex(f.Name, f.src)
	}
	ft := &formatter{toks: toks, offs: make([]int, len(toks)), flat: map[*Chain]string{}}
	for i, t := range toks {
		ft.offs[i] = t.Pos.Offset
	}
	return func(x any) string {
		if toks == nil {
			return ""
		}
		switch x := x.(type) {
		case *Stmt:
			switch {
			case x.Let != nil:
				return "let " + x.Let.Name + " = " + ft.flatChain(x.Let.Chain)
			case x.Chain != nil:
				return ft.flatChain(x.Chain)
			}
		case *Block:
			return ft.flatStage(&Stage{Block: x})
		}
		return ""
	}
}
