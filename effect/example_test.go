package effect_test

import (
	"context"
	"errors"
	"fmt"

	"rose-ash.com/persist/effect"
)

// Greet is an effect descriptor: a plain value naming one operation, whose
// answer is a string.
type Greet struct {
	effect.Returns[string]
	Name string
}

func (Greet) EffectName() string { return "demo/greet" }

// hello is a program: it performs Greet and knows nothing of who answers.
func hello(p *effect.P) (string, error) {
	return effect.Perform(p, Greet{Name: "persist"})
}

// A handler answers the effects it knows and passes on the rest.
var greeter = effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
	if g, ok := e.(Greet); ok {
		return "hello, " + g.Name, nil
	}
	return nil, effect.ErrUnhandled
})

// In place: the handler answers on the program's own stack.
func ExampleCall() {
	p := effect.Handle(context.Background(), greeter)
	s, err := effect.Call(p, hello)
	fmt.Println(s, err)

	// Without a handler the effect is unhandled, as a value.
	_, err = effect.Call(effect.Handle(context.Background()), hello)
	fmt.Println(errors.Is(err, effect.ErrUnhandled), err)
	// Output:
	// hello, persist <nil>
	// true effect: no handler for demo/greet
}

// Stepped: the program suspends at each effect its own handlers do not
// answer, and the host resumes it with an answer of its choosing.
func ExampleStart() {
	s := effect.Start(context.Background(), hello)
	for !s.Done() {
		fmt.Println("host sees", s.Effect().EffectName())
		s = s.Resume("hi from the host", nil)
	}
	fmt.Println(s.Result())
	// Output:
	// host sees demo/greet
	// hi from the host <nil>
}

// Abort ends a suspended program, as a crash would: its pending Perform
// returns ErrAborted.
func ExampleSuspension_Abort() {
	s := effect.Start(context.Background(), func(p *effect.P) (string, error) {
		_, err := effect.Perform(p, Greet{Name: "x"})
		fmt.Println("program sees:", err)
		return "", err
	})
	fmt.Println(s.Abort())
	// Output:
	// program sees: effect: program aborted
	// effect: program aborted
}
