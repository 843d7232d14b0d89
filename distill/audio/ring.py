"""``SpliceRing``: audio written ahead of the callback, which the writer may rewrite.

A single-producer/single-consumer ring of samples in preallocated memory. Positions are
absolute sample counts (Python ints, each written by one side only; an int assignment is
atomic under the GIL), so the two sides never need a lock:

- the **producer** (the real-time render thread) keeps a lead of audio written ahead and
  may REWRITE it from any point at least ``guard`` samples past the end of the block the
  consumer has claimed (``reading_until``; a splice): the audio before that point is
  untouched, so a join made there is continuous, and the consumer never waits. A write
  that comes too late is refused and the producer splices later. Each splice may carry a
  time stamp (``time.perf_counter()`` of the event that caused it): the consumer turns it
  into a control-to-sound latency when it plays the splice's first sample;
- the **consumer** (the audio callback) claims its block (``reading_until``) BEFORE it
  copies, copies the next samples out, zero-fills what is missing (a dropout, if the
  stream was meant to be playing) and advances its position whatever happened, like the
  DAC's clock. It only copies and writes numbers into preallocated arrays: no allocation
  of arrays, no locks, no logging.

Because the claim comes first, a splice may land right after the block being played
rather than a whole block further on (one callback period less latency). The only race
left: the consumer claims a block that reaches into a splice between the producer's check
and its copy (the GIL changed hands in between). The consumer then plays a few samples of
the old audio where the new one starts: a join a little later than planned, which the
synthesis makes continuous anyway (see ``distill.render.realtime``). It is counted
(``torn``), never silent.
"""

from __future__ import annotations

import functools

import numpy as np

#: Splices whose first sample the consumer has not reached yet (older ones are overwritten).
MARK_SLOTS = 64
#: Latencies kept for percentiles (the newest ones).
LATENCY_SLOTS = 4096
#: Stream end of a stream that plays on.
FOREVER = 1 << 62


@functools.cache
def _fade_in(n: int) -> np.ndarray:
    """A raised-cosine fade-in of ``n`` samples (read-only; one per length, made once)."""
    fade = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    fade.flags.writeable = False
    return fade


class SpliceRing:
    """Samples written ahead of the consumer; see the module docstring.

    Parameters
    ----------
    capacity
        Samples held (rounded up to a power of two); bounds the lead.
    guard
        Samples past the consumer's claimed block (``reading_until``) under which a
        rewrite is refused (0: right after it).
    sample_rate
        Turns sample offsets into seconds for the latency.
    """

    def __init__(self, capacity: int, guard: int, sample_rate: int) -> None:
        size = 1 << max(10, int(capacity - 1).bit_length())
        self._buffer = np.zeros(size, dtype=np.float32)
        self._mask = size - 1
        self.guard = guard
        self.sample_rate = sample_rate
        self.read_pos = 0  # consumer-owned: the next sample the callback plays
        self.reading_until = 0  # consumer-owned: end of the block it reads (claimed before the copy)
        self.write_pos = 0  # producer-owned: end of the valid samples
        self.end_pos = 0  # producer-owned: the stream is meant to play while read_pos < end_pos
        self._mark_pos = np.zeros(MARK_SLOTS, dtype=np.int64)
        self._mark_stamp = np.zeros(MARK_SLOTS, dtype=np.float64)
        self._mark_head = 0  # producer-owned
        self._mark_tail = 0  # consumer-owned
        self._latency = np.zeros(LATENCY_SLOTS, dtype=np.float64)
        self.latency_count = 0  # consumer-owned
        self.dropouts = 0  # consumer-owned
        self.torn = 0  # producer-owned: splices the consumer began to read while they were written
        self.last_latency: float | None = None

    @property
    def capacity(self) -> int:
        return self._buffer.shape[0]

    # ---------------------------------------------------------------- producer
    def write(self, samples: np.ndarray, at: int, stamp: float | None = None, blend: int = 0) -> bool:
        """Write ``samples`` [N] float32 from absolute sample ``at``.

        ``at`` before ``write_pos`` rewrites (a splice); after it, the gap is silence.
        ``blend`` > 0: the first ``blend`` samples fade (raised cosine) from the audio
        already written there into ``samples``, so a join is continuous wherever it lands.
        Returns False, writing nothing, when ``at`` is closer than ``guard`` to the end of
        the consumer's claimed block (a late splice) or the lead would overflow the ring.
        """
        n = samples.shape[0]
        read = self.read_pos
        if at < self.reading_until + self.guard or at + n - read > self.capacity:
            return False
        blend = min(blend, n, self.write_pos - at)
        if blend > 0:
            samples = samples.copy()  # the producer's thread: it may allocate
            fade = _fade_in(blend)
            old = self._samples(at, blend)
            samples[:blend] = old + fade * (samples[:blend] - old)
        gap = max(self.write_pos, read)
        if gap < at:
            self._zero(gap, at)
        head, tail = self._spans(at, n)
        first = head.stop - head.start
        self._buffer[head] = samples[:first]
        self._buffer[tail] = samples[first:]
        if stamp is not None:
            slot = self._mark_head % MARK_SLOTS
            self._mark_pos[slot] = at
            self._mark_stamp[slot] = stamp
            self._mark_head += 1
        self.write_pos = at + n
        if self.reading_until > at:  # claimed while we wrote (module docstring): played on, joined later
            self.torn += 1
        return True

    def _spans(self, at: int, n: int) -> tuple[slice, slice]:
        """The buffer's slices holding the ``n`` samples from ``at``: to its end, then from 0."""
        start = at & self._mask
        first = min(n, self.capacity - start)
        return slice(start, start + first), slice(0, n - first)

    def _samples(self, at: int, n: int) -> np.ndarray:
        """A copy of the ``n`` samples written from ``at`` (producer side)."""
        head, tail = self._spans(at, n)
        return np.concatenate([self._buffer[head], self._buffer[tail]])

    def _zero(self, lo: int, hi: int) -> None:
        head, tail = self._spans(lo, hi - lo)
        self._buffer[head] = 0.0
        self._buffer[tail] = 0.0

    def play_until(self, end: int) -> None:
        """The stream is meant to play until sample ``end`` (``FOREVER``: on)."""
        self.end_pos = end

    def latencies(self) -> np.ndarray:
        """The recorded latencies in seconds, oldest first (a copy)."""
        count = self.latency_count
        if count <= LATENCY_SLOTS:
            return self._latency[:count].copy()
        cut = count % LATENCY_SLOTS
        return np.concatenate([self._latency[cut:], self._latency[:cut]])

    def reset_counters(self) -> None:
        self.dropouts = 0
        self.torn = 0
        self.latency_count = 0
        self.last_latency = None

    # ---------------------------------------------------------------- consumer (audio callback)
    def read(self, out: np.ndarray, now: float, dac_delay: float) -> bool:
        """Fill ``out`` [frames] with the next samples; True when any sample came from the stream.

        ``now`` is ``time.perf_counter()`` at the callback and ``dac_delay`` the seconds
        until its first sample reaches the DAC: a splice first played at offset ``i`` of
        this block sounded ``now - stamp + dac_delay + i / sample_rate`` after its event.
        """
        frames = out.shape[0]
        r = self.read_pos
        self.reading_until = r + frames  # the claim, before the copy
        avail = min(max(self.write_pos - r, 0), frames)
        if avail > 0:
            start = r & self._mask
            first = min(avail, self.capacity - start)
            out[:first] = self._buffer[start:start + first]
            out[first:avail] = self._buffer[:avail - first]
        out[avail:] = 0.0
        if avail < frames and r < self.end_pos:
            self.dropouts += 1
        self._take_marks(r, frames, now, dac_delay)
        self.read_pos = r + frames
        return avail > 0

    def _take_marks(self, r: int, frames: int, now: float, dac_delay: float) -> None:
        head = self._mark_head
        tail = self._mark_tail
        if head - tail > MARK_SLOTS:  # the producer lapped us: the oldest marks are gone
            tail = head - MARK_SLOTS
        while tail < head:
            pos = self._mark_pos[tail % MARK_SLOTS]
            if tail + 1 < head and self._mark_pos[(tail + 1) % MARK_SLOTS] <= pos:
                tail += 1  # rewritten by a later splice before it was heard
                continue
            if pos >= r + frames:
                break
            offset = max(0, pos - r) / self.sample_rate
            latency = now - self._mark_stamp[tail % MARK_SLOTS] + dac_delay + offset
            self._latency[self.latency_count % LATENCY_SLOTS] = latency
            self.latency_count += 1
            self.last_latency = latency
            tail += 1
        self._mark_tail = tail

    def record_latency(self, latency: float) -> None:
        """Record a latency measured elsewhere in the callback (a one-shot sound's start)."""
        self._latency[self.latency_count % LATENCY_SLOTS] = latency
        self.latency_count += 1
        self.last_latency = latency


class RingTap:
    """Measurement only: records what the callback read, by absolute ring sample, and where
    stamped writes (splices) landed — for tests and ``benchmarks/realtime.py``.

    It wraps ``ring.read``/``ring.write`` of a live ring (the callback then copies into
    ``audio`` too), so never install it in the studio.

    Parameters
    ----------
    ring
        The engine's ``SpliceRing``.
    samples
        Length of ``audio`` ``[samples]``; reads past it are not recorded.
    """

    def __init__(self, ring: SpliceRing, samples: int) -> None:
        self.audio = np.zeros(samples, dtype=np.float32)
        self.splices: list[int] = []
        read, write = ring.read, ring.write

        def tapped_read(out, now, dac_delay):
            r = ring.read_pos
            result = read(out, now, dac_delay)
            if r + out.shape[0] <= self.audio.shape[0]:
                self.audio[r:r + out.shape[0]] = out
            return result

        def tapped_write(samples_, at, stamp=None, blend=0):
            ok = write(samples_, at, stamp, blend)
            if ok and stamp is not None:
                self.splices.append(at)
            return ok

        ring.read, ring.write = tapped_read, tapped_write
