namespace Iwae.Autodiff.Kernels;

/// <summary>
/// Float spans widened to double and back: how the float entry points of the references (<see cref="GaussianNaive"/>,
/// <see cref="BernoulliNaive"/>), the kernels' oracles, run the generic loops in float64 arithmetic.
/// </summary>
internal static class Float64
{
    /// <summary>A double copy of x; every float is exactly a double.</summary>
    public static double[] Widen(ReadOnlySpan<float> x)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = x[i];
        return d;
    }

    /// <summary>to[i] = from[i] rounded to the nearest float.</summary>
    public static void Narrow(ReadOnlySpan<double> from, Span<float> to)
    {
        for (int i = 0; i < from.Length; i++) to[i] = (float)from[i];
    }
}
