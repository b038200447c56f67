package loadtest

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTicks = 100

// CPUSnapshot is the CPU time used so far by this process, the machine and some other processes.
type CPUSnapshot struct {
	at                time.Time
	self              time.Duration
	busy, total       uint64 // machine jiffies from /proc/stat
	procs             map[string]time.Duration
	machineReadFailed bool
}

// TakeCPU reads the CPU times now; procs names processes by label (their pids). Processes that cannot be
// read are left out.
func TakeCPU(procs map[string]int) CPUSnapshot {
	s := CPUSnapshot{at: time.Now(), procs: map[string]time.Duration{}}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var err error
	if s.busy, s.total, err = machineJiffies(); err != nil {
		s.machineReadFailed = true
	}
	for label, pid := range procs {
		if d, err := ProcessCPU(pid); err == nil {
			s.procs[label] = d
		}
	}
	return s
}

// CPUUsage is CPU use over an interval, in cores (1.0 = one core busy all the time).
type CPUUsage struct {
	Cores int `json:"cores"`
	// Generator is this process's use; GeneratorShare is that as a share of the machine's capacity.
	Generator      float64 `json:"generator_cores"`
	GeneratorShare float64 `json:"generator_share"`
	// Machine is the whole machine's use (from /proc/stat).
	Machine float64 `json:"machine_cores"`
	// Processes is the use of the labelled processes (e.g. the server under test).
	Processes map[string]float64 `json:"processes_cores,omitempty"`
}

// CPUBetween returns the use between two snapshots.
func CPUBetween(a, b CPUSnapshot) CPUUsage {
	wall := b.at.Sub(a.at).Seconds()
	u := CPUUsage{Cores: runtime.NumCPU()}
	if wall <= 0 {
		return u
	}
	round := func(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
	u.Generator = round((b.self - a.self).Seconds() / wall)
	u.GeneratorShare = round(u.Generator / float64(u.Cores))
	if !a.machineReadFailed && !b.machineReadFailed && b.total > a.total {
		u.Machine = round(float64(b.busy-a.busy) / float64(b.total-a.total) * float64(u.Cores))
	}
	for label, end := range b.procs {
		if begin, ok := a.procs[label]; ok {
			if u.Processes == nil {
				u.Processes = map[string]float64{}
			}
			u.Processes[label] = round((end - begin).Seconds() / wall)
		}
	}
	return u
}

// machineJiffies reads the busy and total jiffies of all CPUs from /proc/stat.
func machineJiffies() (busy, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("loadtest: unexpected /proc/stat")
	}
	var idle uint64
	for i, s := range f[1:] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return total - idle, total, nil
}

// ProcessCPU returns the user plus system CPU time of a process (from /proc/<pid>/stat), or an error
// when it cannot be read.
func ProcessCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may contain spaces: fields count from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("loadtest: unexpected /proc/<pid>/stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("loadtest: short /proc/<pid>/stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
