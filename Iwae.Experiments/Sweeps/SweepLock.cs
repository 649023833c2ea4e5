using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;

namespace Iwae.Experiments.Sweeps;

/// <summary>What a run's lock file holds: who runs it, since when, and when it last said it was alive.</summary>
/// <param name="Host">The worker's host name.</param>
/// <param name="Pid">The worker's process id.</param>
/// <param name="Token">Unique to this hold: tells the holder whether the lock is still its own.</param>
/// <param name="Started">When the hold began (UTC).</param>
/// <param name="Heartbeat">When the holder last renewed it (UTC).</param>
public sealed record SweepLockInfo(string Host, int Pid, string Token, DateTime Started, DateTime Heartbeat);

/// <summary>
/// A run's lock: runs/&lt;name&gt;/lock, created atomically (a file that must not exist yet), holding host, pid and a
/// heartbeat that a timer renews every <see cref="HeartbeatInterval"/>. A lock whose heartbeat is older than
/// <see cref="StaleAfter"/> belongs to a worker that died (a node lost, a kill -9) and is taken over. A heartbeat more
/// than <see cref="ClockSkewAllowance"/> ahead of this machine's clock was written by a node whose clock is wrong, so
/// its time says nothing: such a lock is judged by whether its heartbeat still changes, and is stale once it has not
/// changed for <see cref="StaleAfter"/> of this machine's time (a taker that waits sees that happen). The takeover
/// itself is serialised by a second file created the same way, and re-checks the lock under it, so two workers that
/// both saw a stale lock cannot both win. Works on any shared filesystem that honours exclusive create (NFSv3 and later).
/// <para>
/// Every writer of a run folder holds this lock: `iwae sweep run`, and `iwae train` (new or --resume) through
/// <see cref="Runs.Train(ModelConfig, TrainOptions, RunSettings, Autodiff.Execution?, Action{string}?, RunCheckpoint?)"/>, and `iwae compare`.
/// </para>
/// <para>
/// A holder that finds its lock gone or replaced (it was paused past <see cref="StaleAfter"/> and taken over) is told
/// through <see cref="Lost"/>; training is deterministic, so even then both workers write the same bits.
/// </para>
/// </summary>
public sealed class SweepLock : IDisposable
{
    /// <summary>The lock file's name in a run folder.</summary>
    public const string FileName = "lock";

    private readonly string _path;
    private readonly SweepLockInfo _mine;
    private readonly Timer _timer;
    private readonly CancellationTokenSource _lost = new();
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>How often the holder renews its heartbeat.</summary>
    public static TimeSpan HeartbeatInterval { get; } = TimeSpan.FromSeconds(10);

    /// <summary>How old a heartbeat must be before another worker takes the lock over.</summary>
    public static TimeSpan StaleAfter { get; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How far ahead of this machine's clock a heartbeat may lie and still be judged by its time: clocks kept by NTP
    /// differ by far less. Beyond it the holder's clock is wrong, and the lock is judged by whether it changes.
    /// </summary>
    public static TimeSpan ClockSkewAllowance { get; } = TimeSpan.FromSeconds(30);

    // Locks seen with a heartbeat beyond the allowance: the token and heartbeat last read, and when (this clock) they
    // were first read as they are. A live holder rewrites its heartbeat every HeartbeatInterval, so an unchanged one
    // for StaleAfter means its writer is gone, whatever its clock said.
    private static readonly ConcurrentDictionary<string, (string Token, DateTime Heartbeat, DateTime Since)> FutureHeartbeats = new();

    private SweepLock(string path, SweepLockInfo mine, TimeSpan interval)
    {
        _path = path;
        _mine = mine;
        _timer = new Timer(_ => Renew(), null, interval, interval);
    }

    /// <summary>Fires when the lock stopped being this holder's (taken over after a long pause, or deleted).</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>The lock as written.</summary>
    public SweepLockInfo Info => _mine;

    /// <summary>
    /// Takes the lock of <paramref name="runFolder"/>, taking over a stale one; null when another worker holds it, with
    /// <paramref name="holder"/> saying who. <paramref name="now"/>, <paramref name="staleAfter"/> and
    /// <paramref name="heartbeat"/> are for tests.
    /// </summary>
    public static SweepLock? TryAcquire(string runFolder, out SweepLockInfo? holder, Func<DateTime>? now = null,
        TimeSpan? staleAfter = null, TimeSpan? heartbeat = null)
    {
        var clock = now ?? (() => DateTime.UtcNow);
        Directory.CreateDirectory(runFolder);
        string path = Path.Combine(runFolder, FileName);
        var mine = new SweepLockInfo(Environment.MachineName, Environment.ProcessId, Guid.NewGuid().ToString("N"), clock(), clock());
        var interval = heartbeat ?? HeartbeatInterval;
        if (TryCreate(path, mine))
        {
            holder = null;
            return new SweepLock(path, mine, interval);
        }
        var stale = staleAfter ?? StaleAfter;
        holder = Read(path);
        if (!IsStale(path, holder, clock(), stale)) return null;

        // Stale (or unreadable: a holder that died while writing it). One taker at a time: whoever creates the
        // takeover file re-reads the lock under it and replaces it only if it is still the stale one.
        string takeover = path + ".takeover";
        ClearAbandoned(takeover, clock, stale);
        if (!TryCreate(takeover, mine)) return null;
        try
        {
            var again = Read(path);
            if (File.Exists(path) && (again?.Token != holder?.Token || !IsStale(path, again, clock(), stale)))
            {
                holder = again;
                return null;
            }
            File.Delete(path);
            if (!TryCreate(path, mine))
            {
                holder = Read(path);
                return null;
            }
            holder = null;
            return new SweepLock(path, mine, interval);
        }
        finally
        {
            File.Delete(takeover);
        }
    }

    /// <summary>
    /// Takes the lock of <paramref name="runFolder"/> (see <see cref="TryAcquire"/>); when another writer holds it,
    /// <see cref="IOException"/> with one line naming the holder (host, pid).
    /// </summary>
    public static SweepLock Acquire(string runFolder)
        => TryAcquire(runFolder, out var holder) ?? throw new IOException(HeldBy(runFolder, holder, DateTime.UtcNow));

    /// <summary>One line saying who holds <paramref name="runFolder"/>'s lock, for a writer that was refused.</summary>
    public static string HeldBy(string runFolder, SweepLockInfo? holder, DateTime now)
    {
        string path = Path.Combine(runFolder, FileName);
        if (holder is null) return $"{runFolder}: in use by another writer (its lock {path} is being written); try again in a moment";
        var age = now - holder.Heartbeat;
        string beat = age >= TimeSpan.Zero ? $"heartbeat {age.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture)} s ago"
                                            : $"heartbeat {(-age).TotalSeconds.ToString("F0", CultureInfo.InvariantCulture)} s ahead of this clock";
        return $"{runFolder}: in use by {holder.Host} pid {holder.Pid} (lock {path}, {beat}); wait until it stops, or stop it first";
    }

    /// <summary>The lock of <paramref name="runFolder"/> as written, or null when there is none (or it does not parse).</summary>
    public static SweepLockInfo? ReadFrom(string runFolder) => Read(Path.Combine(runFolder, FileName));

    /// <summary>
    /// Whether a lock is held by a live worker at <paramref name="now"/>, as far as one look can tell: the rule a
    /// takeover applies, except that a heartbeat beyond <see cref="ClockSkewAllowance"/> counts as fresh here (only
    /// watching it over time shows whether it still changes; see <see cref="IsAhead"/>).
    /// </summary>
    public static bool IsFresh(SweepLockInfo info, DateTime now) => !HolderGone(null, info, now, StaleAfter);

    /// <summary>Whether the heartbeat lies further ahead of <paramref name="now"/> than <see cref="ClockSkewAllowance"/>: its writer's clock is wrong.</summary>
    public static bool IsAhead(SweepLockInfo info, DateTime now) => info.Heartbeat - now > ClockSkewAllowance;

    /// <summary>Renews the heartbeat if the lock is still this holder's; otherwise signals <see cref="Lost"/>.</summary>
    public void Renew()
    {
        lock (_gate)
        {
            if (_disposed || _lost.IsCancellationRequested) return;
            var current = Read(_path);
            if (current?.Token != _mine.Token)
            {
                _lost.Cancel();
                return;
            }
            AtomicFile.WriteAllText(_path, IwaeJson.Serialize(_mine with { Heartbeat = DateTime.UtcNow }));
        }
    }

    /// <summary>Stops the heartbeat and removes the lock if it is still this holder's.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _timer.Dispose();
            if (Read(_path)?.Token == _mine.Token) File.Delete(_path);
        }
        _lost.Dispose();
    }

    // A lock that does not parse is one being written right now, or one whose writer died: judge it by the file's age.
    // A holder on this very machine whose process is gone is dead at once, heartbeat or not.
    private static bool IsStale(string path, SweepLockInfo? info, DateTime now, TimeSpan staleAfter)
    {
        if (info is not null) return HolderGone(path, info, now, staleAfter);
        try { return !File.Exists(path) || DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > staleAfter; }
        catch (IOException) { return false; }
    }

    // path is null for a single look (status), which cannot watch a heartbeat that lies ahead.
    private static bool HolderGone(string? path, SweepLockInfo info, DateTime now, TimeSpan staleAfter)
    {
        if (ProcessGone(info)) return true;
        if (!IsAhead(info, now))
        {
            if (path is not null) FutureHeartbeats.TryRemove(path, out _);
            return now - info.Heartbeat > staleAfter;
        }
        if (path is null) return false;
        var seen = FutureHeartbeats.AddOrUpdate(path, (info.Token, info.Heartbeat, now),
            (_, old) => old.Token == info.Token && old.Heartbeat == info.Heartbeat ? old : (info.Token, info.Heartbeat, now));
        return now - seen.Since > staleAfter;
    }

    private static bool ProcessGone(SweepLockInfo info) => info.Host == Environment.MachineName && !Alive(info.Pid);

    private static bool Alive(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }         // no such process
        catch (InvalidOperationException) { return false; }
    }

    private static bool TryCreate(string path, SweepLockInfo info)
    {
        try
        {
            // FileShare.Read, not None: on Unix .NET backs None with an exclusive flock taken after the file is opened,
            // which fails while another worker has the file open to read it. For a file just created, that made the
            // create throw and this answer "someone else holds it" though nobody did (SweepTests' racing takers, once
            // in a CI run). A reader of a half-written lock sees it unparsed, which Read and IsStale already treat as
            // being written.
            using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            f.Write(System.Text.Encoding.UTF8.GetBytes(IwaeJson.Serialize(info)));
            f.Flush(flushToDisk: true);
            return true;
        }
        catch (IOException e) when (AlreadyExists(e) || File.Exists(path))
        {
            return false;
        }
    }

    // EEXIST on Unix; ERROR_FILE_EXISTS (80) on Windows. Checked by code: the file may be gone again by the time we look.
    private static bool AlreadyExists(IOException e) => OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) == 80 : e.HResult == 17;

    private static SweepLockInfo? Read(string path)
    {
        try { return IwaeJson.Deserialize<SweepLockInfo>(File.ReadAllText(path)); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    // A takeover file left by a worker that died mid-takeover (a window of milliseconds) must not block the run forever.
    private static void ClearAbandoned(string takeover, Func<DateTime> clock, TimeSpan staleAfter)
    {
        try
        {
            if (File.Exists(takeover) && clock() - File.GetLastWriteTimeUtc(takeover) > staleAfter) File.Delete(takeover);
        }
        catch (IOException) { }
    }
}
