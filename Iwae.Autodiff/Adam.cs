using System.Numerics;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff;

/// <summary>
/// Adam (Kingma and Ba 2015) with bias correction, updating parameters in place, in the same arithmetic as
/// torch.optim.Adam:  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
/// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
/// State (m, v, t) is allocated once; <see cref="Step"/> allocates nothing.
/// </summary>
public sealed class Adam<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly IReadOnlyList<Parameter<T>> _parameters;
    private readonly T[][] _m, _v;

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

    /// <summary>One update from the current gradients. Does not zero them.</summary>
    public void Step()
    {
        StepCount++;
        double t = StepCount;
        T bc1 = T.One - T.CreateTruncating(Math.Pow(double.CreateTruncating(Beta1), t));
        T bc2Sqrt = T.Sqrt(T.One - T.CreateTruncating(Math.Pow(double.CreateTruncating(Beta2), t)));
        T stepSize = LearningRate / bc1;
        for (int p = 0; p < _parameters.Count; p++)
            UpdateParallel(_parameters[p].Value.Span, _parameters[p].Grad.Span, _m[p], _v[p], stepSize, bc2Sqrt);
    }

    /// <summary>
    /// <see cref="Update"/> cut across <see cref="Kernels.Workers"/> at multiples of 64 values: every value is
    /// updated by the same code as on one thread.
    /// </summary>
    private unsafe void UpdateParallel(Span<T> w, ReadOnlySpan<T> g, Span<T> m, Span<T> v, T stepSize, T bc2Sqrt)
    {
        fixed (T* pw = w, pg = g, pm = m, pv = v)
            Kernels.ParallelRange<UpdateBody>.For(new UpdateBody(this, pw, pg, pm, pv, stepSize, bc2Sqrt), w.Length, 64, w.Length * 8L);
    }

    private readonly unsafe struct UpdateBody(Adam<T> adam, T* w, T* g, T* m, T* v, T stepSize, T bc2Sqrt) : Kernels.IRangeBody
    {
        public void Run(int start, int end)
        {
            int n = end - start;
            adam.Update(new Span<T>(w + start, n), new ReadOnlySpan<T>(g + start, n), new Span<T>(m + start, n), new Span<T>(v + start, n),
                stepSize, bc2Sqrt, Kernels.Simd.Best);
        }
    }

    /// <summary>
    /// The update of one parameter tensor. The vector paths do the same IEEE operations in the same order per
    /// element as the scalar tail (no fused multiply-add), so every path gives bit-identical weights.
    /// </summary>
    internal void Update(Span<T> w, ReadOnlySpan<T> g, Span<T> m, Span<T> v, T stepSize, T bc2Sqrt, Kernels.SimdPath path)
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
                var wi = Vector512.Create((ReadOnlySpan<T>)w.Slice(i, Vector512<T>.Count)) - vs * mi / (Vector512.Sqrt(vi) / vbc + veps);
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                wi.CopyTo(w.Slice(i));
            }
        }
        else if (path >= Kernels.SimdPath.Vector256 && Vector256.IsHardwareAccelerated)
        {
            var (vb1, vb2, vc1, vc2) = (Vector256.Create(b1), Vector256.Create(b2), Vector256.Create(oneMinusB1), Vector256.Create(oneMinusB2));
            var (vs, vbc, veps) = (Vector256.Create(stepSize), Vector256.Create(bc2Sqrt), Vector256.Create(eps));
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var gi = Vector256.Create(g.Slice(i, Vector256<T>.Count));
                var mi = vb1 * Vector256.Create((ReadOnlySpan<T>)m.Slice(i, Vector256<T>.Count)) + vc1 * gi;
                var vi = vb2 * Vector256.Create((ReadOnlySpan<T>)v.Slice(i, Vector256<T>.Count)) + vc2 * gi * gi;
                var wi = Vector256.Create((ReadOnlySpan<T>)w.Slice(i, Vector256<T>.Count)) - vs * mi / (Vector256.Sqrt(vi) / vbc + veps);
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
            w[i] -= stepSize * m[i] / (T.Sqrt(v[i]) / bc2Sqrt + eps);
        }
    }
}
