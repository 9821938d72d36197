package dev.tessera.kotlin

import dev.tessera.EditInput
import dev.tessera.EditProgress
import dev.tessera.EditResult
import dev.tessera.EditSession
import dev.tessera.InvalidInputException
import dev.tessera.LabelMap
import dev.tessera.ModelHandle
import dev.tessera.ModelSpec
import dev.tessera.NoFullPassException
import dev.tessera.Tessera
import java.nio.file.Path
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancel
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.runTest
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.fail

/** The coroutine and Flow extensions on the golden GauGAN (256x128 label maps, CPU backend). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EditSessionsTest {
    private lateinit var model: ModelHandle

    private val original: LabelMap = labels { x, y ->
        when {
            x in 150..219 && y in 20..89 -> 11 // building
            x in 30..89 && y in 80..109 -> 26 // car
            y < 60 -> 23 // sky
            else -> 7 // road
        }
    }

    /** The original with a 40x24 region painted over as vegetation. */
    private val edited: LabelMap = labels { x, y ->
        if (x in 100..139 && y in 40..63) 21 else original.labels()[y * WIDTH + x]
    }

    @BeforeAll
    fun load() {
        val weights = Path.of(System.getProperty("tessera.golden"), "gaugan", "weights.safetensors")
        model = Tessera.load(
            ModelSpec.gaugan(weights).with("ngf", 8).with("crop_size", 256).with("aspect_ratio", 2.0)
                .with("num_upsampling_layers", "more"),
        )
    }

    @AfterAll
    fun close() = model.close()

    @Test
    fun awaitGenerateThenAwaitEditRunsASparseEdit() = onRealThreads {
        model.newSession().use { s ->
            val full = s.awaitGenerate(original)
            assertEquals(full.denseMacs(), full.sparseMacs())
            val r = s.awaitEdit(edited)
            assertTrue(r.editedFraction() > 0, "edited fraction ${r.editedFraction()}")
            assertTrue(r.sparseMacs() < r.denseMacs(), "${r.sparseMacs()} of ${r.denseMacs()} MACs")
            model.newSession().use { blocking ->
                blocking.generate(original)
                assertArrayEquals(blocking.edit(edited).image().rgb(), r.image().rgb())
            }
        }
    }

    @Test
    fun flowsEmitProgressThenOneDoneLast() = onRealThreads {
        model.newSession().use { s ->
            val generated = s.generateFlow(original).toList()
            assertProgressThenDone(generated, "full pass")

            val events = s.editFlow(edited).toList()
            assertProgressThenDone(events, "edit")
            val result = (events.last() as EditEvent.Done).result
            assertTrue(result.editedFraction() > 0 && result.sparseMacs() < result.denseMacs(), result.toString())
        }
    }

    @Test
    fun aSlowCollectorLosesOnlyOldProgressNeverTheResult() = onRealThreads {
        model.newSession().use { s ->
            val counting = GatedSession(s, gate = false)
            val events = counting.generateFlow(original)
                .onEach { event ->
                    // Busy with the first event until the engine has finished: everything else piles up.
                    if (event is EditEvent.Progress && event.progress.done() == 1) {
                        runCatching { counting.runs.single().future.await().await() }
                    }
                }
                .toList()
            val reported = counting.runs.single().events.get()
            val delivered = events.filterIsInstance<EditEvent.Progress>().map { it.progress }
            println("slow collector: ${delivered.size} of $reported progress events delivered")
            assertProgressThenDone(events, "full pass")
            assertTrue(delivered.size < reported, "nothing was dropped")
            assertEquals(delivered.last().total(), delivered.last().done(), "the newest progress was dropped")
        }
    }

    @Test
    fun stoppingCollectionEarlyCancelsTheRun() = onRealThreads {
        model.newSession().use { s ->
            s.awaitGenerate(original)
            val gated = GatedSession(s)
            val first = gated.editFlow(edited).first()
            assertTrue(first is EditEvent.Progress, first.toString())
            assertRunCancelled(gated)
            assertTrue(s.awaitEdit(edited).editedFraction() > 0)
        }
    }

    @Test
    fun cancellingTheCollectorOnTheFirstProgressCancelsTheRunAndTheSessionStaysUsable() = onRealThreads {
        model.newSession().use { s ->
            s.awaitGenerate(original)
            val expected = s.awaitEdit(edited).image().rgb()
            val gated = GatedSession(s)
            val seen = mutableListOf<EditEvent>()
            expectThrows<CancellationException> {
                coroutineScope {
                    gated.editFlow(edited).collect { event ->
                        seen += event
                        if (event is EditEvent.Progress) this@coroutineScope.cancel("stop after the first progress")
                    }
                }
            }
            assertEquals(1, seen.size, seen.toString())
            assertTrue(seen.single() is EditEvent.Progress)
            assertRunCancelled(gated)
            assertArrayEquals(expected, s.awaitEdit(edited).image().rgb())
        }
    }

    @Test
    fun cancellingAwaitEditCancelsTheRun() = onRealThreads {
        model.newSession().use { s ->
            s.awaitGenerate(original)
            val gated = GatedSession(s)
            val job = launch { gated.awaitEdit(edited) }
            gated.firstProgress.await()
            job.cancelAndJoin()
            assertTrue(job.isCancelled)
            assertRunCancelled(gated)
            val after = s.awaitEdit(edited)
            assertTrue(after.sparseMacs() < after.denseMacs())
        }
    }

    @Test
    fun failuresThrowTheTesseraExceptionItself() = onRealThreads {
        model.newSession().use { s ->
            expectThrows<NoFullPassException> { s.awaitEdit(edited) }
            expectThrows<NoFullPassException> { s.editFlow(edited).toList() }
            val tooSmall = LabelMap.of(128, 64, IntArray(128 * 64))
            val e = expectThrows<InvalidInputException> { s.awaitGenerate(tooSmall) }
            assertTrue(e.message!!.contains("the model takes 256x128"), e.message)
            expectThrows<InvalidInputException> { s.generateFlow(tooSmall).toList() }
            assertTrue(s.awaitGenerate(original).sparseMacs() > 0) // and the session still works
        }
    }

    /**
     * The run's first progress event held the engine thread until the run's future completed (so the
     * cancel landed before the next boundary): the future was cancelled and the run reported nothing
     * more once it had let go of the session.
     */
    private suspend fun assertRunCancelled(gated: GatedSession) {
        val run = gated.runs.single()
        assertTrue(run.future.get(10, TimeUnit.SECONDS).isCancelled, "the run's future was not cancelled")
        gated.awaitStopped() // the cancelled run gives the session's lock back at its next boundary
        assertEquals(1, run.events.get(), "progress events of the cancelled run (1: none after the cancel)")
    }

    private fun assertProgressThenDone(events: List<EditEvent>, phase: String) {
        assertTrue(events.size >= 2, events.toString())
        assertTrue(events.last() is EditEvent.Done, "last event: ${events.last()}")
        assertEquals(1, events.count { it is EditEvent.Done })
        val progress = events.filterIsInstance<EditEvent.Progress>().map { it.progress }
        assertTrue(progress.isNotEmpty())
        assertTrue(progress.all { it.phase() == phase && it.done() in 1..it.total() }, progress.toString())
        assertEquals(progress.sortedBy { it.done() }, progress, "progress out of order")
    }

    /**
     * Delegates to a session, counting each run's progress events; with [gate], holds the engine
     * thread at each run's first progress event until that run's future completes: a deterministic
     * "slow step", so a cancel sent in reaction to that event always arrives before the next boundary.
     */
    private class GatedSession(
        private val session: EditSession,
        private val gate: Boolean = true,
    ) : EditSession by session {
        val runs = CopyOnWriteArrayList<GatedRun>()
        val firstProgress = CompletableDeferred<Unit>()

        override fun editAsync(edited: EditInput, listener: EditProgress.Listener?) =
            gate(listener) { session.editAsync(edited, it) }

        override fun generateAsync(original: EditInput, listener: EditProgress.Listener?) =
            gate(listener) { session.generateAsync(original, it) }

        private fun gate(
            downstream: EditProgress.Listener?,
            start: (EditProgress.Listener) -> CompletableFuture<EditResult>,
        ): CompletableFuture<EditResult> {
            val run = GatedRun(downstream, firstProgress, gate)
            runs += run
            return start(run).also { run.future.complete(it) }
        }

        /** Suspends until a cancelled run has let go of the session (a no-change [EditSession.revert] takes its lock). */
        suspend fun awaitStopped() = withContext(Dispatchers.IO) { session.revert() }
    }

    private class GatedRun(
        private val downstream: EditProgress.Listener?,
        private val firstProgress: CompletableDeferred<Unit>,
        private val gate: Boolean,
    ) : EditProgress.Listener {
        val future = CompletableFuture<CompletableFuture<EditResult>>()
        val events = AtomicInteger()

        override fun onProgress(progress: EditProgress) {
            val n = events.incrementAndGet()
            downstream?.onProgress(progress)
            if (gate && n == 1) {
                firstProgress.complete(Unit)
                val run = future.get(10, TimeUnit.SECONDS)
                runCatching { run.get(10, TimeUnit.SECONDS) } // returns once cancelled (or after 10 s)
            }
        }
    }

    private companion object {
        const val WIDTH = 256
        const val HEIGHT = 128

        fun labels(label: (x: Int, y: Int) -> Int): LabelMap =
            LabelMap.of(WIDTH, HEIGHT, IntArray(WIDTH * HEIGHT) { label(it % WIDTH, it / WIDTH) })

        /** runTest's virtual time does not apply to the engine's threads: run the body on real ones. */
        fun onRealThreads(body: suspend CoroutineScope.() -> Unit) =
            runTest { withContext(Dispatchers.Default) { body() } }

        inline fun <reified T : Throwable> expectThrows(body: () -> Unit): T {
            try {
                body()
            } catch (e: Throwable) {
                if (e is T) return e
                throw e
            }
            fail("expected ${T::class.simpleName}")
        }
    }
}
