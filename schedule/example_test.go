package schedule_test

import (
	"fmt"
	"time"

	"github.com/seipbot/seipbot/schedule"
)

func ExampleParseSpec() {
	spec, err := schedule.ParseSpec("30 2 * * mon-fri")
	if err != nil {
		fmt.Println(err)
		return
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Friday 27 March 2026; on Monday 30 March Berlin is on summer time.
	t := time.Date(2026, 3, 27, 12, 0, 0, 0, berlin)
	for range 2 {
		t = spec.Next(t)
		fmt.Println(t.Format("Mon 2006-01-02 15:04 MST"))
	}

	_, err = schedule.ParseSpec("61 * * * *")
	fmt.Println(err)
	// Output:
	// Mon 2026-03-30 02:30 CEST
	// Tue 2026-03-31 02:30 CEST
	// cron spec "61 * * * *": minute 61 is out of range 0-59
}
