package receiver

import (
	"github.com/selfheal/selfheal/receiver/action"
)

// runSteps runs (or, in a dry run, only journals) each prepared action in
// order, stopping at the first that does not succeed; when one failed, the
// rule's on_failure steps run after it, and the first failure is what the
// attempt ends with.
func (e *Engine) runSteps(t *task, prepared []action.Prepared, dry bool) (result, reason string) {
	for i, p := range prepared {
		step := e.runStep(t, t.rule.Steps()[i].Kind(), p, dry, false)
		if step.Result != action.ResultSuccess && step.Result != action.ResultDryRun {
			if step.Result == action.ResultFailed {
				e.undo(t)
			}
			return step.Result, step.Action + ": " + step.Reason
		}
	}
	if dry {
		return action.ResultDryRun, ""
	}
	return action.ResultSuccess, ""
}

// undo runs the rule's on_failure steps after a failed step, each whatever
// the one before did: they put back what the attempt took away. Their
// results are journaled; they never change the attempt's.
func (e *Engine) undo(t *task) {
	prepared, err := t.rule.PrepareUndo(t.data)
	if err != nil { // checked before the attempt started; kept for safety
		return
	}
	for i, p := range prepared {
		e.runStep(t, t.rule.UndoSteps()[i].Kind(), p, false, true)
	}
}

// runStep runs one prepared step (or journals it as a dry run), showing it
// as running in the journal meanwhile, and records its outcome.
func (e *Engine) runStep(t *task, kind string, p action.Prepared, dry, onFailure bool) action.Step {
	en := t.entry
	var step action.Step
	if dry {
		step = action.Step{Action: kind, What: p.What, Result: action.ResultDryRun, Started: e.opts.Now()}
	} else {
		// The journal shows the step as running, also after a crash
		// (within the write-behind's interval).
		en.Steps = append(en.Steps, action.Step{Action: kind, What: p.What, Result: action.ResultRunning, Started: e.opts.Now(), OnFailure: onFailure})
		e.journal.SetLive(en)
		_ = e.journal.RecordFor(en, t.key)
		en.Steps = en.Steps[:len(en.Steps)-1]
		step = p.Run(e.runCtx)
	}
	step.OnFailure = onFailure
	en.Steps = append(en.Steps, step)
	e.journal.SetLive(en)
	e.metrics.actions.WithLabelValues(t.rule.Name, step.Action, step.Result).Inc()
	return step
}
