using System.Diagnostics;

namespace Iwae.Core.Training;

/// <summary>
/// Chooses, while training, between the configured kernel thread count and one thread, by measured step time.
/// On a shared VM two threads are at times slower than one: the host can place the two virtual CPUs where every
/// hand-off between them costs several times more (the README's "slow stretches"). Results are bit-identical for
/// any thread count, so the choice changes the speed and nothing else.
/// <para>
/// Steps are timed in windows of at least <see cref="MinSteps"/> steps and <see cref="MinSeconds"/>. After every
/// few windows on the chosen count, one window runs on the other, and it becomes the choice when its steps were
/// faster by <see cref="Margin"/> than those of the window just before it. A probe that loses doubles the number
/// of windows to the next probe (up to <see cref="MaxInterval"/>), and spaces them further when it lost by a lot,
/// so that probing costs at most <see cref="ProbeBudget"/> of the time (one thread on a 16-core machine can be ten
/// times slower); one that wins resets it, so that the old count is tried again soon.
/// </para>
/// </summary>
internal sealed class ThreadGovernor
{
    /// <summary>Fewest steps in a timed window.</summary>
    public const int MinSteps = 16;

    /// <summary>Shortest timed window, in seconds.</summary>
    public const double MinSeconds = 0.05;

    /// <summary>Windows on the chosen count before the first probe, and after a probe that won.</summary>
    public const int FirstInterval = 4;

    /// <summary>Most windows between two probes, unless a probe that lost by a lot asks for more (<see cref="ProbeBudget"/>).</summary>
    public const int MaxInterval = 64;

    /// <summary>Share of the time that losing probes may cost: a probe r times slower waits (r - 1) / budget windows.</summary>
    public const double ProbeBudget = 0.02;

    /// <summary>A probe wins when its mean step time is below this fraction of the chosen count's.</summary>
    public const double Margin = 0.9;

    private readonly int _threads;
    private readonly Func<long> _clock;
    private readonly long _minTicks;
    private int _chosen;
    private bool _probing;
    private int _interval = FirstInterval, _windowsSinceProbe;
    private int _steps;
    private long _start;
    private double _chosenMean = double.NaN;

    /// <summary>
    /// A governor over <paramref name="threads"/> (an execution's count, at least 1) and one thread; <paramref name="clock"/>
    /// (ticks of <paramref name="ticksPerSecond"/>) is for tests.
    /// </summary>
    public ThreadGovernor(int threads, Func<long>? clock = null, double ticksPerSecond = 0)
    {
        _threads = _chosen = threads;
        _clock = clock ?? Stopwatch.GetTimestamp;
        _minTicks = (long)(MinSeconds * (ticksPerSecond > 0 ? ticksPerSecond : Stopwatch.Frequency));
    }

    /// <summary>The count that the probes currently favour.</summary>
    public int Chosen => _chosen;

    /// <summary>Steps run on one thread while the configured count was larger.</summary>
    public long OneThreadSteps { get; private set; }

    /// <summary>Call before a step: the thread count to run it on.</summary>
    public int BeginStep()
    {
        if (_steps == 0) _start = _clock();
        return Current;
    }

    /// <summary>Call after the step that <see cref="BeginStep"/> began.</summary>
    public void EndStep()
    {
        if (Current == 1 && _threads > 1) OneThreadSteps++;
        _steps++;
        long elapsed = _clock() - _start;
        if (_steps < MinSteps || elapsed < _minTicks) return;
        double mean = (double)elapsed / _steps;
        _steps = 0;
        if (_probing)
        {
            _probing = false;
            _windowsSinceProbe = 0;
            if (mean < Margin * _chosenMean)
            {
                _chosen = Other;
                _chosenMean = mean;
                _interval = FirstInterval;
            }
            else
            {
                double cost = (mean / _chosenMean - 1) / ProbeBudget;
                _interval = Math.Max(Math.Min(2 * _interval, MaxInterval), (int)Math.Min(Math.Ceiling(cost - 1e-9), 100_000));
            }
        }
        else
        {
            _chosenMean = mean;
            if (_threads > 1 && ++_windowsSinceProbe >= _interval) _probing = true;
        }
    }

    /// <summary>Drops the window in progress (after a pause in training: an evaluation, a checkpoint).</summary>
    public void Restart() => _steps = 0;

    /// <summary>The count for the step in progress: the chosen one, or the other during a probe window.</summary>
    public int Current => _probing ? Other : _chosen;

    private int Other => _chosen == 1 ? _threads : 1;
}
