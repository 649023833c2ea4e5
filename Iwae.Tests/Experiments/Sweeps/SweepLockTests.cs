using Iwae.Core;
using Iwae.Experiments.Sweeps;

namespace Iwae.Tests.Experiments.Sweeps;

/// <summary>
/// A run's lock when clocks disagree: a heartbeat far in the future (a node whose clock is ahead) is judged by whether
/// it still changes, so a dead holder with a wrong clock does not block its run for ever, and a live one is left alone.
/// </summary>
public class SweepLockTests : TempDirTests
{
    private void WriteLock(string folder, string token, DateTime heartbeat)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, SweepLock.FileName), IwaeJson.Serialize(new SweepLockInfo("skewed-node", 4242, token, heartbeat, heartbeat)));
    }

    [Test]
    public void AHeartbeatInTheFuture_IsTakenOverOnceItHasNotChangedForStaleAfter()
    {
        string folder = Path.Combine(Dir, "run");
        var t0 = new DateTime(2030, 1, 1, 12, 0, 0, DateTimeKind.Utc);
        var now = t0;
        WriteLock(folder, "ahead", t0 + TimeSpan.FromHours(1));       // its node's clock is an hour ahead

        Assert.That(SweepLock.TryAcquire(folder, out var holder, () => now), Is.Null, "first seen: it may be alive");
        Assert.That(holder?.Host, Is.EqualTo("skewed-node"));
        Assert.That(SweepLock.IsFresh(holder!, now) && SweepLock.IsAhead(holder!, now), Is.True, "status: running, with its clock ahead");

        now += SweepLock.StaleAfter / 2;
        Assert.That(SweepLock.TryAcquire(folder, out _, () => now), Is.Null);

        // A live holder renews: its heartbeat changes, so the wait starts again from here.
        WriteLock(folder, "ahead", t0 + TimeSpan.FromHours(1) + SweepLock.HeartbeatInterval);
        now += SweepLock.StaleAfter / 2 + TimeSpan.FromSeconds(10);
        Assert.That(SweepLock.TryAcquire(folder, out _, () => now), Is.Null, "it changed: alive");
        now += SweepLock.StaleAfter - TimeSpan.FromSeconds(5);
        Assert.That(SweepLock.TryAcquire(folder, out _, () => now), Is.Null, "unchanged, but not yet for StaleAfter");

        now += TimeSpan.FromSeconds(10);
        using var taken = SweepLock.TryAcquire(folder, out _, () => now);
        Assert.That(taken, Is.Not.Null, "unchanged for longer than StaleAfter: its holder is gone, whatever its clock said");
        Assert.That(SweepLock.ReadFrom(folder)!.Token, Is.EqualTo(taken!.Info.Token));
    }

    [Test]
    public void AHeartbeatALittleAhead_IsJudgedByItsTime()
    {
        string folder = Path.Combine(Dir, "run");
        var now = new DateTime(2030, 1, 1, 12, 0, 0, DateTimeKind.Utc);
        var beat = now + SweepLock.ClockSkewAllowance - TimeSpan.FromSeconds(1);
        WriteLock(folder, "near", beat);
        Assert.That(SweepLock.IsAhead(SweepLock.ReadFrom(folder)!, now), Is.False);
        Assert.That(SweepLock.TryAcquire(folder, out _, () => now), Is.Null);
        now = beat + SweepLock.StaleAfter + TimeSpan.FromSeconds(1);
        using var taken = SweepLock.TryAcquire(folder, out _, () => now);
        Assert.That(taken, Is.Not.Null, "stale by its time, as any heartbeat within the allowance");
    }

    [Test]
    public void Acquire_RefusesASecondWriter_InOneLineNamingTheHolder()
    {
        string folder = Path.Combine(Dir, "run");
        using var first = SweepLock.Acquire(folder);
        var e = Assert.Throws<IOException>(() => SweepLock.Acquire(folder))!;
        Assert.That(e.Message, Does.Contain($"in use by {Environment.MachineName} pid {Environment.ProcessId}").And.Contain(folder).And.Not.Contain("\n"));
    }
}
