using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments;

namespace Iwae.Tests.Core.Training;

/// <summary>
/// <see cref="ThreadGovernor"/> on a fake clock (one tick per step on one thread or on several, as the test says),
/// and a training run whose governor switches between thread counts, bit for bit equal to fixed-count runs.
/// </summary>
[NonParallelizable]
public class ThreadGovernorTests
{
    private const double TicksPerSecond = 100;     // MinSeconds = 5 ticks, so windows are MinSteps steps long

    /// <summary>Runs <paramref name="steps"/> steps; each costs <paramref name="cost"/>(thread count, step) ticks.</summary>
    private static List<int> Run(ThreadGovernor g, int steps, Func<int, int, long> cost, Action<long>? setClock = null)
    {
        var used = new List<int>();
        for (int i = 0; i < steps; i++)
        {
            int n = g.BeginStep();
            used.Add(n);
            setClock!(cost(n, i));
            g.EndStep();
        }
        return used;
    }

    private static (ThreadGovernor G, Action<long> Advance) Governor(int threads)
    {
        long now = 0;
        var g = new ThreadGovernor(threads, () => now, TicksPerSecond);
        return (g, dt => now += dt);
    }

    [Test]
    public void WhenOneThreadIsFaster_ItSwitchesAtTheFirstProbe_AndProbesTheOtherCountLessAndLessOften()
    {
        var (g, advance) = Governor(2);
        var used = Run(g, 4000, (n, _) => n == 1 ? 10 : 12, advance);
        int w = ThreadGovernor.MinSteps;
        // Four windows on 2 threads, then the probe window on 1 thread wins.
        Assert.That(used.Take(4 * w), Is.All.EqualTo(2));
        Assert.That(used.Skip(4 * w).Take(w), Is.All.EqualTo(1));
        Assert.That(g.Chosen, Is.EqualTo(1));
        // From then on 2 threads are only probed, one window at a time: after 4 windows, then 10 (a probe 1.2 times
        // slower waits (1.2 - 1) / 2% windows), then doubling up to 64.
        var twos = used.Select((n, i) => (n, i)).Where(x => x.n == 2 && x.i >= 5 * w).Select(x => x.i).ToList();
        var starts = twos.Where((i, j) => j == 0 || twos[j - 1] != i - 1).ToList();
        Assert.That(twos, Has.Count.EqualTo(starts.Count * w), "each probe is one window");
        var gaps = starts.Zip(starts.Skip(1), (a, b) => (b - a) / w - 1).ToList();
        Assert.That(gaps.Take(5), Is.EqualTo(new[] { 10, 20, 40, 64, 64 }));
        Assert.That(g.OneThreadSteps, Is.EqualTo(used.Count(n => n == 1)));
    }

    [Test]
    public void WhenTheConfiguredCountIsFaster_ItStays_AndOnlyProbesOneThread()
    {
        var (g, advance) = Governor(2);
        var used = Run(g, 4000, (n, _) => n == 1 ? 15 : 10, advance);
        Assert.That(g.Chosen, Is.EqualTo(2));
        int w = ThreadGovernor.MinSteps;
        // Probes after 4, 25 (= 0.5 / 2%), 50, 64 and 64 windows: 5 probe windows in the first 4 + 25 + 50 + 64 + 64 + 5 = 212.
        Assert.That(used.Take(212 * w).Count(n => n == 1), Is.EqualTo(5 * w));
        Assert.That(used.Take(211 * w).Count(n => n == 1), Is.EqualTo(4 * w));
        Assert.That(g.OneThreadSteps, Is.EqualTo(used.Count(n => n == 1)));
        Assert.That(used.Count(n => n == 1), Is.LessThan(used.Count / 20), "probing costs under 5% of the steps");
    }

    [Test]
    public void WhenTheMachineRecovers_ItGoesBackToTheConfiguredCount_WithinTheLongestProbeInterval()
    {
        var (g, advance) = Governor(2);
        const int flip = 20_000;
        // While one thread was faster, probes of two were 3 times slower and came every (3 - 1) / 2% = 100 windows.
        int longest = (int)Math.Ceiling(2 / ThreadGovernor.ProbeBudget);
        var used = Run(g, flip + (longest + 2) * ThreadGovernor.MinSteps, (n, i) => (n == 1) == (i < flip) ? 10 : 30, advance);
        Assert.That(used[flip - 1], Is.EqualTo(1), "one thread while it was faster");
        Assert.That(g.Chosen, Is.EqualTo(2), "back on two threads");
    }

    [Test]
    public void WhenOneThreadIsTenTimesSlower_ProbingCostsAboutTheBudget()
    {
        // A 16-core machine: one thread is 10 times slower. Doubling alone would stop at a probe every 64 windows
        // and lose 9 / 64 = 14% of the time; the budget spaces probes to (10 - 1) / 2% = 450 windows.
        var (g, advance) = Governor(16);
        long total = 0, lost = 0;
        for (int i = 0; i < 200_000; i++)
        {
            int n = g.BeginStep();
            long cost = n == 1 ? 100 : 10;
            total += cost;
            if (n == 1) lost += cost - 10;
            advance(cost);
            g.EndStep();
        }
        Assert.That(g.Chosen, Is.EqualTo(16));
        Assert.That((double)lost / total, Is.LessThan(1.5 * ThreadGovernor.ProbeBudget), "time lost to probes");
        Assert.That(g.OneThreadSteps, Is.GreaterThan(0), "it still probes");
    }

    [Test]
    public void SmallDifferences_DoNotSwitch_AndOneThreadNeverProbes()
    {
        var (g, advance) = Governor(2);
        Run(g, 2000, (n, _) => n == 1 ? 95 : 100, advance);      // 5% faster: inside the 10% margin
        Assert.That(g.Chosen, Is.EqualTo(2));

        var (one, advance1) = Governor(1);
        Assert.That(Run(one, 500, (_, _) => 10, advance1), Is.All.EqualTo(1));
        Assert.That(one.OneThreadSteps, Is.Zero);
    }

    [Test]
    public void Restart_DropsTheWindowInProgress()
    {
        var (g, advance) = Governor(2);
        // A pause (an evaluation) inside the last chosen window before the probe must not count against 2 threads.
        Run(g, 3 * ThreadGovernor.MinSteps + 5, (_, _) => 10, advance);
        advance(100_000);
        g.Restart();
        Run(g, 5 * ThreadGovernor.MinSteps, (_, _) => 10, advance);
        Assert.That(g.Chosen, Is.EqualTo(2), "without Restart the pause would have made the probe on 1 thread win");
    }

    [Test]
    public void TrainingWhileTheGovernorSwitches_GivesTheBitsOfFixedThreadCounts()
    {
        var data = TestUtil.MnistHead(210);
        var config = new ModelConfig { K = 5 };       // the paper's layer sizes: the GEMMs split across threads
        float[] Train(int threads, bool adaptive, Func<int, long>? cost = null)
        {
            var m = Runs.CreateModel(config, data, 3);
            using var execution = new Execution(threads, adaptive ? ThreadPolicy.Adaptive : ThreadPolicy.Fixed);
            var trainer = new Trainer(m, data, new TrainOptions { Epochs = 2, BatchSize = 2 }, execution);
            Assert.That(trainer.Governor is not null, Is.EqualTo(adaptive && threads > 1), "a governor under the adaptive policy");
            ThreadGovernor? g = null;
            if (cost is not null)
            {
                long now = 0;
                g = new ThreadGovernor(threads, () => now += cost(g!.Current), TicksPerSecond);
                trainer.Governor = g;
            }
            trainer.Train();
            if (g is not null)
            {
                TestContext.Out.WriteLine($"{g.OneThreadSteps} of {trainer.Steps} steps on one thread");
                Assert.That(g.OneThreadSteps, Is.InRange(1, trainer.Steps - 1), "the run used both counts");
            }
            Assert.That(trainer.Execution, Is.SameAs(execution));
            return m.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }

        var fixedTwo = Train(2, adaptive: false);
        Assert.That(Train(1, adaptive: false), Is.EqualTo(fixedTwo), "1 thread");
        Assert.That(Train(2, adaptive: true, cost: n => n == 1 ? 1 : 3), Is.EqualTo(fixedTwo), "switching to 1 thread");
        Assert.That(Train(3, adaptive: true, cost: n => n == 1 ? 3 : 1), Is.EqualTo(fixedTwo), "3 threads, probing 1");
    }
}
