using System.Numerics;

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
        T oneMinusB1 = T.One - Beta1, oneMinusB2 = T.One - Beta2;
        for (int p = 0; p < _parameters.Count; p++)
        {
            var w = _parameters[p].Value.Span;
            var g = _parameters[p].Grad.Span;
            var m = _m[p].AsSpan();
            var v = _v[p].AsSpan();
            for (int i = 0; i < w.Length; i++)
            {
                T gi = g[i];
                m[i] = Beta1 * m[i] + oneMinusB1 * gi;
                v[i] = Beta2 * v[i] + oneMinusB2 * gi * gi;
                w[i] -= stepSize * m[i] / (T.Sqrt(v[i]) / bc2Sqrt + Epsilon);
            }
        }
    }
}
