package priority

import "golang.org/x/sys/unix"

// lowestNice is the lowest CPU priority of a normal thread.
const lowestNice = 19

// lowerThreadPriority gives the calling thread the lowest normal CPU
// priority. On Linux the nice value is per thread; a failure leaves it as
// it was.
func lowerThreadPriority() {
	unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), lowestNice)
}
