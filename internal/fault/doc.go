// Package fault holds fault-injection tests run by scripts/fault.
package fault
