@file:JvmName("EditSessions")

package dev.tessera.kotlin

import dev.tessera.EditInput
import dev.tessera.EditProgress
import dev.tessera.EditResult
import dev.tessera.EditSession
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CompletionException
import java.util.concurrent.ExecutionException
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.channelFlow
import kotlinx.coroutines.suspendCancellableCoroutine

// Named await* (not edit/generate): EditSession's blocking Java members edit(EditInput) and
// generate(EditInput) would always win over same-named extensions.

/**
 * Suspending [EditSession.generate]: runs the full pass on [original] via [EditSession.generateAsync]
 * without blocking the calling thread.
 *
 * Cancelling the coroutine cancels the run (it stops at the next layer or step boundary and leaves
 * the session as it was) and throws [kotlinx.coroutines.CancellationException]; the session may
 * still be finishing that step, so its next call can wait briefly for it. Failures throw the
 * [dev.tessera.TesseraException] itself, not a CompletionException wrapping it.
 */
suspend fun EditSession.awaitGenerate(original: EditInput): EditResult =
    generateAsync(original, null).awaitRun()

/**
 * Suspending [EditSession.edit]: recomputes what changed between the accepted state and [edited],
 * via [EditSession.editAsync]. Cancellation and failures as for [awaitGenerate].
 */
suspend fun EditSession.awaitEdit(edited: EditInput): EditResult =
    editAsync(edited, null).awaitRun()

/**
 * [awaitGenerate] as a cold [Flow]: each collection starts one full pass on [original], emits
 * [EditEvent.Progress] events and ends with one [EditEvent.Done]. Cancelling the collector (or
 * stopping early, e.g. with `first()`) cancels the run. Progress is buffered without ever blocking
 * the engine thread: when the collector falls behind, the oldest progress events are dropped, never
 * the [EditEvent.Done].
 */
fun EditSession.generateFlow(original: EditInput): Flow<EditEvent> =
    runFlow { listener -> generateAsync(original, listener) }

/** [awaitEdit] as a cold [Flow] of progress then the result; see [generateFlow]. */
fun EditSession.editFlow(edited: EditInput): Flow<EditEvent> =
    runFlow { listener -> editAsync(edited, listener) }

/** Progress events kept for a slow collector; older ones are dropped. */
private const val PROGRESS_BUFFER = 64

private fun runFlow(start: (EditProgress.Listener) -> CompletableFuture<EditResult>): Flow<EditEvent> =
    channelFlow {
        // Called on the engine thread: trySend never blocks; it only fails once the flow is closed.
        val future = start { progress -> trySend(EditEvent.Progress(progress)) }
        send(EditEvent.Done(future.awaitRun()))
    }.buffer(PROGRESS_BUFFER, BufferOverflow.DROP_OLDEST) // Done is sent last, so it is never the oldest

/**
 * Suspends until the run completes. On coroutine cancellation, cancels the future, which makes the
 * run stop at its next boundary. Failures are rethrown unwrapped.
 */
private suspend fun CompletableFuture<EditResult>.awaitRun(): EditResult =
    suspendCancellableCoroutine { cont ->
        cont.invokeOnCancellation { cancel(true) }
        whenComplete { result, error ->
            // After a cancellation the continuation is already resumed and these calls are ignored.
            if (error == null) cont.resume(result) else cont.resumeWithException(unwrap(error))
        }
    }

private fun unwrap(error: Throwable): Throwable {
    var e = error
    while (e is CompletionException || e is ExecutionException) e = e.cause ?: break
    return e
}
