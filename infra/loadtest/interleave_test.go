package loadtest

import (
	"reflect"
	"testing"
	"time"
)

func TestSliceOrder(t *testing.T) {
	got := SliceOrder(4, 2)
	want := [][]int{{0, 1}, {1, 0}, {0, 1}, {1, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SliceOrder(4, 2) = %v, want %v", got, want)
	}
	if got := SliceOrder(2, 1); !reflect.DeepEqual(got, [][]int{{0}, {0}}) {
		t.Fatalf("SliceOrder(2, 1) = %v", got)
	}
	// Every target runs in every slice, and each position is held equally often over an even count.
	first := map[int]int{}
	for _, o := range SliceOrder(6, 3) {
		if len(o) != 3 || o[0]+o[1]+o[2] != 3 {
			t.Fatalf("slice order %v is not a permutation of 0..2", o)
		}
		first[o[0]]++
	}
	if first[0] != 3 || first[2] != 3 {
		t.Fatalf("first positions %v, want targets 0 and 2 three times each", first)
	}
}

func TestSliceDurations(t *testing.T) {
	got := SliceDurations(10*time.Second+2, 4)
	var sum time.Duration
	for _, d := range got {
		sum += d
	}
	if len(got) != 4 || sum != 10*time.Second+2 || got[0] != 2500*time.Millisecond || got[3] != 2500*time.Millisecond+2 {
		t.Fatalf("SliceDurations = %v (sum %v)", got, sum)
	}
	if got := SliceDurations(time.Second, 0); len(got) != 1 || got[0] != time.Second {
		t.Fatalf("SliceDurations(1s, 0) = %v, want [1s]", got)
	}
}

func TestMeanCPU(t *testing.T) {
	us := []CPUUsage{
		{Cores: 2, Generator: 0.2, Machine: 1.0, Processes: map[string]float64{"runner": 0.5}},
		{Cores: 2, Generator: 0.5, Machine: 2.0, Processes: map[string]float64{"runner": 1.0, "reference": 0.3}},
	}
	got := MeanCPU(us, []time.Duration{time.Second, 3 * time.Second})
	want := CPUUsage{Cores: 2, Generator: 0.425, GeneratorShare: 0.213, Machine: 1.75,
		Processes: map[string]float64{"runner": 0.875, "reference": 0.225}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MeanCPU = %+v, want %+v", got, want)
	}
	if got := MeanCPU(nil, nil); !reflect.DeepEqual(got, CPUUsage{}) {
		t.Fatalf("MeanCPU(nil) = %+v, want zero", got)
	}
}
