package handler

// WithDefaults fills the zero fields of o with the defaults New applies.
func (o LifecycleOptions) WithDefaults() LifecycleOptions { return o.withDefaults() }
