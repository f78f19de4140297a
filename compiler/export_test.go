package compiler

// builtinKinds returns the registry of the real built-in kinds. This package
// may not import the plugins, so kinds_test.go, in package compiler_test,
// sets it from plugins/builtin before any test runs.
var builtinKinds func() *MapRegistry

// SetBuiltinKinds is for kinds_test.go.
func SetBuiltinKinds(f func() *MapRegistry) { builtinKinds = f }
