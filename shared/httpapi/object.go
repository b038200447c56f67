package httpapi

import "slices"

// Field is one member of a type's JSON object: its name (plain ASCII, written without escaping) and how
// its value is written, exactly as encoding/json writes it (package jsonx has the pieces).
type Field[T any] struct {
	Name  string
	Value func(b []byte, v *T) ([]byte, error)
}

// Object writes a type's JSON object without reflection, whole or projected to the fields a listing asked
// for (?fields=). Its fields are in the order the whole object writes them, which is the struct's order
// for a struct that encoding/json would write. Build one per type, once, with NewObject.
type Object[T any] struct {
	fields []Field[T]
	keys   []string // `"name":` per field
	all    []int
}

// NewObject returns the object of fields.
func NewObject[T any](fields ...Field[T]) *Object[T] {
	o := &Object[T]{fields: fields}
	for i, f := range fields {
		o.keys, o.all = append(o.keys, `"`+f.Name+`":`), append(o.all, i)
	}
	return o
}

// Names returns the field names, in order. The result is a new slice.
func (o *Object[T]) Names() []string {
	names := make([]string, len(o.fields))
	for i, f := range o.fields {
		names[i] = f.Name
	}
	return names
}

// Append appends v's whole object.
func (o *Object[T]) Append(b []byte, v *T) ([]byte, error) { return o.append(b, v, o.all) }

func (o *Object[T]) append(b []byte, v *T, fields []int) ([]byte, error) {
	b = append(b, '{')
	for n, i := range fields {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, o.keys[i]...)
		var err error
		if b, err = o.fields[i].Value(b, v); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// Projection returns the projection of names: the bytes encoding/json writes for a map of those fields,
// whose keys it sorts. Names the object does not have are ignored, duplicates written once.
func (o *Object[T]) Projection(names []string) Projection[T] {
	p := Projection[T]{o: o, fields: make([]int, 0, len(names))}
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		for i, f := range o.fields {
			if f.Name == name {
				p.fields = append(p.fields, i)
				break
			}
		}
	}
	return p
}

// Projection is an Object limited to some of its fields; see Object.Projection.
type Projection[T any] struct {
	o      *Object[T]
	fields []int // indices into o.fields, sorted by name
}

// Of returns v under the projection, ready to be written.
func (p Projection[T]) Of(v T) Projected[T] { return Projected[T]{p: p, v: v} }

// Projected is a value under a Projection; *Projected implements JSONAppender (a ListResponse of
// Projected values writes each through a pointer to it, without copying it).
type Projected[T any] struct {
	p Projection[T]
	v T
}

// AppendJSON appends the projected fields.
func (p *Projected[T]) AppendJSON(b []byte) ([]byte, error) { return p.p.o.append(b, &p.v, p.p.fields) }
