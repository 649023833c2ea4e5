using System.Numerics;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff;

/// <summary>
/// Adam (Kingma and Ba 2015) with bias correction, updating parameters in place, in the same arithmetic as
/// torch.optim.Adam:  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
/// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
/// State (m, v, t) is allocated once; <see cref="Step"/> allocates nothing. Like torch's foreach Adam, a step
/// updates every parameter in one pass cut across the threads of the <see cref="Execution"/> given (one hand-off for
/// all of them; the caller alone when none is), and so do <see cref="ZeroGrad"/> and <see cref="FirstNonFiniteGradient"/>;
/// each thread takes the same part of every parameter every time, and the weights are the same bits on any thread count.
/// </summary>
public sealed class Adam<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly IReadOnlyList<Parameter<T>> _parameters;
    private readonly T[][] _m, _v;
    private readonly int[] _lengths;
    private int _firstBad;

    /// <summary>Step size; may be changed between steps (learning-rate schedules).</summary>
    public T LearningRate { get; set; }

    /// <summary>Decay of the first-moment estimate.</summary>
    public T Beta1 { get; }

    /// <summary>Decay of the second-moment estimate.</summary>
    public T Beta2 { get; }

    /// <summary>Added to the denominator.</summary>
    public T Epsilon { get; }

    /// <summary>Steps taken so far (t).</summary>
    public long StepCount { get; private set; }

    /// <summary>An optimiser over <paramref name="parameters"/>. Defaults are PyTorch's; the IWAE paper uses beta1 0.99, beta2 0.999, eps 1e-4.</summary>
    public Adam(IReadOnlyList<Parameter<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be >= 0");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must be in [0, 1)");
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "must be > 0");
        _parameters = parameters;
        LearningRate = T.CreateTruncating(learningRate);
        Beta1 = T.CreateTruncating(beta1);
        Beta2 = T.CreateTruncating(beta2);
        Epsilon = T.CreateTruncating(epsilon);
        _m = new T[parameters.Count][];
        _v = new T[parameters.Count][];
        for (int i = 0; i < parameters.Count; i++)
        {
            _m[i] = new T[parameters[i].Value.Length];
            _v[i] = new T[parameters[i].Value.Length];
        }
        _lengths = [.. parameters.Select(p => p.Value.Length)];
    }

    /// <summary>The parameters this optimiser updates.</summary>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary>First-moment estimate of parameter <paramref name="index"/> (for checkpoints).</summary>
    public Span<T> FirstMoment(int index) => _m[index];

    /// <summary>Second-moment estimate of parameter <paramref name="index"/> (for checkpoints).</summary>
    public Span<T> SecondMoment(int index) => _v[index];

    /// <summary>Restores the step counter (with the moments, from a checkpoint).</summary>
    public void SetStepCount(long t)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(t);
        StepCount = t;
    }

    /// <summary>One update from the current gradients, on <paramref name="execution"/>'s threads. Does not zero them.</summary>
    public void Step(Execution? execution = null)
    {
        StepCount++;
        double t = StepCount;
        T bc1 = T.One - T.CreateTruncating(Math.Pow(double.CreateTruncating(Beta1), t));
        T bc2Sqrt = T.Sqrt(T.One - T.CreateTruncating(Math.Pow(double.CreateTruncating(Beta2), t)));
        T stepSize = LearningRate / bc1;
        // Cut at multiples of 64 values: every value is updated by the same code as on one thread.
        Kernels.TensorSlices<UpdateBody>.For(new UpdateBody(this, stepSize, bc2Sqrt), _lengths, 64, 8, execution);
    }

    /// <summary>Sets every parameter's gradient to zero (torch's optimizer.zero_grad), in one pass on <paramref name="execution"/>'s threads.</summary>
    public void ZeroGrad(Execution? execution = null) => Kernels.TensorSlices<ZeroBody>.For(new ZeroBody(_parameters), _lengths, 64, 1, execution);

    /// <summary>
    /// The index of the first parameter (in <see cref="Parameters"/> order) whose gradient holds a NaN or an
    /// infinity, or -1 when all are finite. Call it before <see cref="Step"/>: a non-finite gradient must never
    /// reach the weights, where Adam's moments would carry it into every later step. Runs on <paramref name="execution"/>'s threads.
    /// </summary>
    public int FirstNonFiniteGradient(Execution? execution = null)
    {
        _firstBad = int.MaxValue;
        Kernels.TensorSlices<FiniteBody>.For(new FiniteBody(this), _lengths, 64, 1, execution);
        return _firstBad == int.MaxValue ? -1 : _firstBad;
    }

    private readonly struct UpdateBody(Adam<T> adam, T stepSize, T bc2Sqrt) : Kernels.ISegmentBody
    {
        public void Run(int index, int start, int end)
        {
            int n = end - start;
            adam.Update(adam._parameters[index].Value.Span.Slice(start, n), adam._parameters[index].Grad.Span.Slice(start, n),
                adam._m[index].AsSpan(start, n), adam._v[index].AsSpan(start, n), stepSize, bc2Sqrt, Kernels.Simd.Best);
        }
    }

    private readonly struct ZeroBody(IReadOnlyList<Parameter<T>> parameters) : Kernels.ISegmentBody
    {
        public void Run(int index, int start, int end) => parameters[index].Grad.Span[start..end].Clear();
    }

    private readonly struct FiniteBody(Adam<T> adam) : Kernels.ISegmentBody
    {
        public void Run(int index, int start, int end)
        {
            // Parts meet only here; the smallest index wins whichever part finds it first.
            if (Volatile.Read(ref adam._firstBad) <= index
                || System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<T>(adam._parameters[index].Grad.Span[start..end])) return;
            int seen;
            while (index < (seen = Volatile.Read(ref adam._firstBad)) && Interlocked.CompareExchange(ref adam._firstBad, index, seen) != seen) { }
        }
    }

    /// <summary>
    /// The update of one parameter tensor. The vector paths (512, 256 and 128 bits, each running its widest vectors and
    /// then the narrower ones on what is left) do the same IEEE operations in the same order per element as the scalar
    /// tail, so every path gives bit-identical weights. Unfused on purpose: this is torch.optim.Adam's arithmetic, one
    /// rounding per operation, and it is the same on every path and machine, which is all the canonical order asks. Once
    /// sqrt(1 - b2^t) rounds to 1 (t above about 17,300 for b2 = 0.999), dividing by it is exact and is skipped.
    /// </summary>
    internal void Update(Span<T> w, ReadOnlySpan<T> g, Span<T> m, Span<T> v, T stepSize, T bc2Sqrt, Kernels.SimdPath path)
    {
        if (bc2Sqrt == T.One) Update<Kernels.No>(w, g, m, v, stepSize, bc2Sqrt, path);
        else Update<Kernels.Yes>(w, g, m, v, stepSize, bc2Sqrt, path);
    }

    private void Update<TCorrect>(Span<T> w, ReadOnlySpan<T> g, Span<T> m, Span<T> v, T stepSize, T bc2Sqrt, Kernels.SimdPath path)
        where TCorrect : Kernels.IFlag
    {
        T b1 = Beta1, b2 = Beta2, eps = Epsilon, oneMinusB1 = T.One - Beta1, oneMinusB2 = T.One - Beta2;
        int i = 0, n = w.Length;
        if (path == Kernels.SimdPath.Vector512 && Vector512.IsHardwareAccelerated)
        {
            var (vb1, vb2, vc1, vc2) = (Vector512.Create(b1), Vector512.Create(b2), Vector512.Create(oneMinusB1), Vector512.Create(oneMinusB2));
            var (vs, vbc, veps) = (Vector512.Create(stepSize), Vector512.Create(bc2Sqrt), Vector512.Create(eps));
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var gi = Vector512.Create(g.Slice(i, Vector512<T>.Count));
                var mi = vb1 * Vector512.Create((ReadOnlySpan<T>)m.Slice(i, Vector512<T>.Count)) + vc1 * gi;
                var vi = vb2 * Vector512.Create((ReadOnlySpan<T>)v.Slice(i, Vector512<T>.Count)) + vc2 * gi * gi;
                var wi = Vector512.Create((ReadOnlySpan<T>)w.Slice(i, Vector512<T>.Count)) - vs * mi / ((TCorrect.On ? Vector512.Sqrt(vi) / vbc : Vector512.Sqrt(vi)) + veps);
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                wi.CopyTo(w.Slice(i));
            }
        }
        if (path >= Kernels.SimdPath.Vector256 && Vector256.IsHardwareAccelerated)
        {
            var (vb1, vb2, vc1, vc2) = (Vector256.Create(b1), Vector256.Create(b2), Vector256.Create(oneMinusB1), Vector256.Create(oneMinusB2));
            var (vs, vbc, veps) = (Vector256.Create(stepSize), Vector256.Create(bc2Sqrt), Vector256.Create(eps));
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var gi = Vector256.Create(g.Slice(i, Vector256<T>.Count));
                var mi = vb1 * Vector256.Create((ReadOnlySpan<T>)m.Slice(i, Vector256<T>.Count)) + vc1 * gi;
                var vi = vb2 * Vector256.Create((ReadOnlySpan<T>)v.Slice(i, Vector256<T>.Count)) + vc2 * gi * gi;
                var wi = Vector256.Create((ReadOnlySpan<T>)w.Slice(i, Vector256<T>.Count)) - vs * mi / ((TCorrect.On ? Vector256.Sqrt(vi) / vbc : Vector256.Sqrt(vi)) + veps);
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                wi.CopyTo(w.Slice(i));
            }
        }
        if (path >= Kernels.SimdPath.Vector128 && Vector128.IsHardwareAccelerated)
        {
            var (vb1, vb2, vc1, vc2) = (Vector128.Create(b1), Vector128.Create(b2), Vector128.Create(oneMinusB1), Vector128.Create(oneMinusB2));
            var (vs, vbc, veps) = (Vector128.Create(stepSize), Vector128.Create(bc2Sqrt), Vector128.Create(eps));
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
            {
                var gi = Vector128.Create(g.Slice(i, Vector128<T>.Count));
                var mi = vb1 * Vector128.Create((ReadOnlySpan<T>)m.Slice(i, Vector128<T>.Count)) + vc1 * gi;
                var vi = vb2 * Vector128.Create((ReadOnlySpan<T>)v.Slice(i, Vector128<T>.Count)) + vc2 * gi * gi;
                var wi = Vector128.Create((ReadOnlySpan<T>)w.Slice(i, Vector128<T>.Count)) - vs * mi / ((TCorrect.On ? Vector128.Sqrt(vi) / vbc : Vector128.Sqrt(vi)) + veps);
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                wi.CopyTo(w.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T gi = g[i];
            m[i] = b1 * m[i] + oneMinusB1 * gi;
            v[i] = b2 * v[i] + oneMinusB2 * gi * gi;
            w[i] -= stepSize * m[i] / ((TCorrect.On ? T.Sqrt(v[i]) / bc2Sqrt : T.Sqrt(v[i])) + eps);
        }
    }
}
