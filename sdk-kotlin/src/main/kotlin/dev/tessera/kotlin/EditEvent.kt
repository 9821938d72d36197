package dev.tessera.kotlin

import dev.tessera.EditProgress
import dev.tessera.EditResult

/**
 * What [editFlow] and [generateFlow] emit: any number of [Progress] events (possibly thinned out
 * when the collector is slower than the engine), then exactly one [Done], always last.
 */
sealed interface EditEvent {
    /** The run finished [EditProgress.done] of [EditProgress.total] units of its phase. */
    data class Progress(val progress: EditProgress) : EditEvent

    /** The run completed; the flow ends after this event. */
    data class Done(val result: EditResult) : EditEvent
}
