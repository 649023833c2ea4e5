using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Training;

/// <summary>Active units (Burda et al. 2016, section 5.2): dimension i is active when Var_x(E_q[z_i|x]) exceeds the threshold.</summary>
/// <param name="Count">Number of active dimensions.</param>
/// <param name="Variances">Var_x of the encoder mean, per dimension.</param>
/// <param name="Threshold">0.01 in the paper.</param>
public sealed record ActiveUnits(int Count, double[] Variances, double Threshold);

/// <summary>How far an evaluation is: what it reports to its execution's progress sink (<see cref="Execution.Report{TReport}"/>).</summary>
/// <param name="Images">Images done.</param>
/// <param name="Total">Images in all.</param>
public readonly record struct EvaluationProgress(int Images, int Total);

/// <summary>
/// Test-set figures, forward only (the tape in <see cref="Tape{T}.NoGrad"/> mode, reset per chunk so no chunk
/// allocates): the log-likelihood estimate L_k with k = 5000 computed in chunks with a running logsumexp,
/// the bound at any k, and active units. Each runs on an <see cref="Execution"/> (null: <see cref="Execution.Serial"/>)
/// whose cancellation is checked before every chunk (a few milliseconds of work at the paper's sizes), so an evaluation
/// at k = 5000 stops within a chunk of being asked; a cancelled call throws <see cref="OperationCanceledException"/> and
/// returns nothing.
/// </summary>
public static class Evaluation
{
    /// <summary>Images evaluated together; with the sample chunk this sets the rows per GEMM.</summary>
    public const int ImagesPerGroup = 20;

    /// <summary>Samples per image drawn at a time by default: the chunk whose logsumexps are merged.</summary>
    public const int SamplesPerChunk = 50;

    /// <summary>
    /// L_k for each row of <paramref name="x"/> [N,D]: log (1/k) sum_s w_s, an estimate of log p(x) from below
    /// that tightens with k. Images are taken in groups of <see cref="ImagesPerGroup"/>; each group's samples are
    /// drawn <paramref name="chunk"/> per image at a time and the partial logsumexps merged in double precision.
    /// Groups run on <paramref name="execution"/>'s threads (its worker pool), each thread with its own tape and buffers,
    /// so nothing is allocated per chunk; with several, each group's kernels run on the thread that has the group, and with
    /// one thread (or one group) the kernels take all of the execution's threads. Each group's noise comes from its own
    /// stream, seeded by (<paramref name="seed"/>, group), so the result does not depend on the thread count. The
    /// execution's progress sink receives an <see cref="EvaluationProgress"/> as groups finish, from whichever thread
    /// finished one, one call at a time and in increasing order; its cancellation is checked before every chunk.
    /// </summary>
    public static double[] LogLikelihoods(Iwae<float> model, Tensor<float> x, int k = 5000, ulong seed = 42, int chunk = SamplesPerChunk,
        Execution? execution = null)
    {
        var result = new double[x.Rows];
        RunGroups(model, x, k, seed, chunk, execution, result, logMeanSquares: null, onGroup: null);
        return result;
    }

    /// <summary>
    /// <see cref="LogLikelihoods(Iwae{float}, Tensor{float}, int, ulong, int, Execution?)"/>'s one
    /// implementation, writing L_k into <paramref name="result"/> [N], with two additions that leave it unchanged.
    /// <paramref name="logMeanSquares"/> [N], when given, receives log (1/k) sum_s w_s^2, from a running logsumexp of 2 log w
    /// in double precision beside the one of log w (for <see cref="Scoring"/>'s standard errors). <paramref name="onGroup"/>(first
    /// row, rows) is called once those rows' results are written, one call at a time, from whichever thread finished them.
    /// Every thread checks the cancellation before each chunk; the first to see it stops the others at their next chunk.
    /// </summary>
    internal static void RunGroups(Iwae<float> model, Tensor<float> x, int k, ulong seed, int chunk, Execution? execution,
        double[] result, double[]? logMeanSquares, Action<int, int>? onGroup)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        model.Config.CheckInput(x.Cols);
        if (result.Length != x.Rows || logMeanSquares is not null && logMeanSquares.Length != x.Rows)
            throw new ArgumentException($"the output arrays must hold the {x.Rows} rows");
        int groups = (x.Rows + ImagesPerGroup - 1) / ImagesPerGroup;
        var run = execution ?? Execution.Serial;
        var cancel = run.Cancellation;
        int next = -1, done = 0;
        var reporting = new Lock();
        Exception? error = null;

        // A share claims groups until none is left; its kernels run on the execution it is given: one thread with the
        // scratch of the thread running the share when there are several shares (they already fill the cores), else all of
        // the execution's threads.
        void Share(Execution kernels)
        {
            try
            {
                var state = new GroupState(model, kernels);
                int g;
                while (Volatile.Read(ref error) is null && (g = Interlocked.Increment(ref next)) < groups)
                {
                    int g0 = g * ImagesPerGroup, b = Math.Min(ImagesPerGroup, x.Rows - g0);
                    state.Run(x.RowSlice(g0, b), result.AsSpan(g0, b), logMeanSquares is null ? default : logMeanSquares.AsSpan(g0, b), k, chunk, Mix(seed, g), cancel);
                    if (run.Progress is null && onGroup is null) continue;
                    // One call at a time and the count never backwards: progress sinks need not be thread-safe.
                    lock (reporting)
                    {
                        if (Volatile.Read(ref error) is not null) return;     // a sink that failed is not called again
                        done += b;
                        try
                        {
                            onGroup?.Invoke(g0, b);
                            run.Report(new EvaluationProgress(done, x.Rows));
                        }
                        catch (Exception e)
                        {
                            // Recorded before the lock is released, so no other thread calls the failed sink again.
                            Interlocked.CompareExchange(ref error, e, null);
                            return;
                        }
                    }
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref error, e, null);
            }
        }

        int shares = Math.Max(1, Math.Min(run.Threads, groups));
        if (shares == 1) Share(run);
        else run.RunShares(shares, (_, kernels) => Share(kernels));
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>One evaluation share's tape (its kernels on <paramref name="kernels"/>), encoder-output buffers and noise stream.</summary>
    private sealed class GroupState(Iwae<float> model, Execution kernels)
    {
        private readonly Tape<float> _t = new(kernels) { NoGrad = true };
        private readonly Tensor<float> _mu = Tensor<float>.Zeros(ImagesPerGroup, model.Latent);
        private readonly Tensor<float> _logSigma = Tensor<float>.Zeros(ImagesPerGroup, model.Latent);
        private readonly Rng _rng = new(0);

        // running [b] receives L_k; squares [b] (empty: not wanted) log (1/k) sum_s w_s^2. cancel is checked before every chunk.
        public void Run(Tensor<float> xs, Span<double> running, Span<double> squares, int k, int chunk, ulong seed, CancellationToken cancel)
        {
            int b = xs.Rows;
            _rng.Reseed(seed);
            var (muG, lsG) = (_mu.RowSlice(0, b), _logSigma.RowSlice(0, b));
            _t.Reset();
            var (m, s) = model.Encode(_t, _t.Constant(xs));
            m.Value.Span.CopyTo(muG.Span);
            s.Value.Span.CopyTo(lsG.Span);

            running.Fill(double.NegativeInfinity);
            squares.Fill(double.NegativeInfinity);
            for (int s0 = 0; s0 < k; s0 += chunk)
            {
                cancel.ThrowIfCancellationRequested();
                int c = Math.Min(chunk, k - s0);
                _t.Reset();
                var logW = model.LogWeights(_t, _t.Constant(xs), _t.Constant(muG), _t.Constant(lsG), c, _rng);   // [c,b]
                var lse = _t.LogSumExp(logW, axis: 0).Value.Span;                                                // [1,b]
                for (int i = 0; i < b; i++) running[i] = LogAddExp(running[i], lse[i]);
                if (!squares.IsEmpty) AddLogSumExpOfSquares(logW.Value.Span, c, squares);
            }
            for (int i = 0; i < b; i++) running[i] -= Math.Log(k);
            for (int i = 0; i < squares.Length; i++) squares[i] -= Math.Log(k);
            _t.Reset();
        }

        // squares[i] = logaddexp(squares[i], logsumexp_s 2 logW[s,i]) for logW [c,b], in double: log w^2 is never exponentiated unshifted.
        private static void AddLogSumExpOfSquares(ReadOnlySpan<float> logW, int c, Span<double> squares)
        {
            int b = squares.Length;
            for (int i = 0; i < b; i++)
            {
                double max = double.NegativeInfinity;
                for (int s = 0; s < c; s++) max = Math.Max(max, logW[s * b + i]);
                if (double.IsNegativeInfinity(max)) continue;     // every w_s = 0 adds nothing
                double sum = 0;
                for (int s = 0; s < c; s++) sum += Math.Exp(2 * (logW[s * b + i] - max));
                squares[i] = LogAddExp(squares[i], 2 * max + Math.Log(sum));
            }
        }
    }

    private static ulong Mix(ulong seed, int group) => seed * 0x9E3779B97F4A7C15UL + (ulong)group * 0xD1B54A32D192ED03UL + 1;

    /// <summary>The test negative log-likelihood estimate -mean L_k (k = 5000 in the paper), in nats, on <paramref name="execution"/>.</summary>
    public static double Nll(Iwae<float> model, Tensor<float> x, int k = 5000, ulong seed = 42, Execution? execution = null)
        => -LogLikelihoods(model, x, k, seed, execution: execution).Average();

    /// <summary>mean L_k over the rows of x: the bound the model trains at k (k = 1: the ELBO), on <paramref name="execution"/>.</summary>
    public static double Bound(Iwae<float> model, Tensor<float> x, int k, ulong seed = 43, Execution? execution = null)
        => LogLikelihoods(model, x, k, seed, chunk: Math.Min(k, 50), execution: execution).Average();

    /// <summary>Counts dimensions whose encoder mean varies across inputs by more than <paramref name="threshold"/> (of h1 with two stochastic layers).</summary>
    public static ActiveUnits ActiveUnits(Iwae<float> model, Tensor<float> x, double threshold = 0.01, Execution? execution = null)
        => ActiveUnitsPerLayer(model, x, threshold, execution)[0];

    /// <summary>
    /// Active units of each stochastic layer: for h1 from Var_x(mu1(x)); for h2 (two layers) from Var_x(mu2(mu1(x))),
    /// the first layer's mean passed up in place of E_q[mu2(h1)], a deterministic and cheap stand-in for E_q[h2|x].
    /// The encoders run on <paramref name="execution"/>, whose cancellation is checked before every 100 inputs.
    /// </summary>
    public static ActiveUnits[] ActiveUnitsPerLayer(Iwae<float> model, Tensor<float> x, double threshold = 0.01, Execution? execution = null)
    {
        var moments = new (double[] Sum, double[] SumSq)[model.Layers];
        moments[0] = (new double[model.Latent], new double[model.Latent]);
        if (model.EncoderH2 is not null) moments[1] = (new double[model.Config.Latent2], new double[model.Config.Latent2]);
        var t = new Tape<float>(execution) { NoGrad = true };
        for (int g0 = 0; g0 < x.Rows; g0 += 100)
        {
            t.Execution.Cancellation.ThrowIfCancellationRequested();
            t.Reset();
            int b = Math.Min(100, x.Rows - g0);
            var mu = model.Encode(t, t.Constant(x.RowSlice(g0, b))).Mu;
            Accumulate(mu.Value, moments[0]);
            if (model.EncoderH2 is not null) Accumulate(model.EncoderH2.Encode(t, mu).Mu.Value, moments[1]);
        }
        return moments.Select(m =>
        {
            var variances = new double[m.Sum.Length];
            for (int i = 0; i < variances.Length; i++)
            {
                double mean = m.Sum[i] / x.Rows;
                variances[i] = Math.Max(0, m.SumSq[i] / x.Rows - mean * mean);
            }
            return new ActiveUnits(variances.Count(v => v > threshold), variances, threshold);
        }).ToArray();

        static void Accumulate(Tensor<float> mu, (double[] Sum, double[] SumSq) m)
        {
            for (int r = 0; r < mu.Rows; r++)
            {
                var row = mu.Row(r);
                for (int i = 0; i < row.Length; i++) { m.Sum[i] += row[i]; m.SumSq[i] += (double)row[i] * row[i]; }
            }
        }
    }

    /// <summary>log(exp(a) + exp(b)) without overflow; -inf + -inf = -inf.</summary>
    public static double LogAddExp(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        double m = Math.Max(a, b);
        return m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m));
    }
}
