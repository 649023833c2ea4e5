namespace Iwae.Autodiff;

/// <summary>Settings for <see cref="GradCheck"/>.</summary>
public sealed record GradCheckOptions
{
    /// <summary>Relative finite-difference step: element i moves by Step * max(1, |theta_i|).</summary>
    public double Step { get; init; } = 1e-6;

    /// <summary>Largest accepted error |analytic - numeric| / max(1, |analytic|, |numeric|).</summary>
    public double Tolerance { get; init; } = 1e-6;

    /// <summary>Parameters with at most this many values in total are checked element by element; larger ones along random directions.</summary>
    public int MaxElementwise { get; init; } = 512;

    /// <summary>Number of random directions for large parameter sets.</summary>
    public int Directions { get; init; } = 16;

    /// <summary>Seed for the random directions.</summary>
    public int Seed { get; init; } = 1234;
}

/// <summary>The outcome of a gradient check.</summary>
/// <param name="MaxError">The largest error seen (see <see cref="GradCheckOptions.Tolerance"/>).</param>
/// <param name="Worst">Where it was: "param[index]" or "direction d".</param>
/// <param name="Analytic">The tape's value there.</param>
/// <param name="Numeric">The central difference there.</param>
/// <param name="Checks">How many comparisons were made.</param>
/// <param name="Tolerance">The tolerance applied.</param>
public sealed record GradCheckResult(double MaxError, string Worst, double Analytic, double Numeric, int Checks, double Tolerance)
{
    /// <summary>True when every comparison was within tolerance.</summary>
    public bool Passed => MaxError <= Tolerance;

    /// <inheritdoc />
    public override string ToString() =>
        $"gradcheck {(Passed ? "passed" : "FAILED")}: max error {MaxError:E3} (tolerance {Tolerance:E1}) at {Worst}: analytic {Analytic:R}, numeric {Numeric:R}, {Checks} checks";
}

/// <summary>Thrown by <see cref="GradCheck.Assert"/> when a gradient is wrong.</summary>
public sealed class GradCheckException(string message) : Exception(message);

/// <summary>
/// Compares a tape's gradients with float64 central differences, in the manner of torch.autograd.gradcheck
/// and jax check_grads: element by element for small parameter sets, along random unit directions for
/// large ones. StopGradient nodes are held at their unperturbed values during the finite differences, which
/// is exactly the meaning of "treated as a constant", so graphs such as the IWAE loss check correctly.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks d f / d parameters. <paramref name="f"/> builds the graph on the given (fresh) tape from the
    /// parameters and returns a [1,1] scalar; it must be deterministic (fix any noise outside it).
    /// </summary>
    public static GradCheckResult Check(Func<Tape<double>, Var<double>> f, IReadOnlyList<Parameter<double>> parameters, GradCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(parameters);
        var o = options ?? new GradCheckOptions();
        var tape = new Tape<double>();
        var stops = new List<double[]>();

        // Analytic gradients, and the StopGradient values at the unperturbed point.
        parameters.ZeroGrad();
        tape.RecordStopGradients(stops);
        var loss = f(tape);
        if (loss.Value.Length != 1) throw new ArgumentException($"the function must return a [1,1] value, got {loss.Value.ShapeString}");
        tape.Backward(loss);
        var analytic = new double[parameters.Count][];
        for (int p = 0; p < parameters.Count; p++) analytic[p] = parameters[p].Grad.ToArray();

        double Eval()
        {
            tape.Reset();
            tape.ReplayStopGradients(stops);
            return f(tape).Item;
        }

        double maxErr = 0, worstA = 0, worstN = 0;
        string worst = "none";
        int checks = 0;
        void Compare(double a, double n, string where)
        {
            checks++;
            double err = Math.Abs(a - n) / Math.Max(1.0, Math.Max(Math.Abs(a), Math.Abs(n)));
            if (double.IsNaN(err)) err = double.PositiveInfinity;
            if (err > maxErr || worst == "none") { maxErr = Math.Max(maxErr, err); worst = where; worstA = a; worstN = n; }
        }

        if (parameters.ValueCount() <= o.MaxElementwise)
        {
            for (int p = 0; p < parameters.Count; p++)
            {
                var w = parameters[p].Value.Span;
                for (int i = 0; i < w.Length; i++)
                {
                    double orig = w[i], h = o.Step * Math.Max(1.0, Math.Abs(orig));
                    parameters[p].Value.Span[i] = orig + h;
                    double fp = Eval();
                    parameters[p].Value.Span[i] = orig - h;
                    double fm = Eval();
                    parameters[p].Value.Span[i] = orig;
                    Compare(analytic[p][i], (fp - fm) / (2 * h), $"{parameters[p].Name}[{i / parameters[p].Cols},{i % parameters[p].Cols}]");
                }
            }
        }
        else
        {
            var rng = new Random(o.Seed);
            var original = new double[parameters.Count][];
            var dir = new double[parameters.Count][];
            double scale = 1.0;
            for (int p = 0; p < parameters.Count; p++)
            {
                original[p] = parameters[p].Value.ToArray();
                dir[p] = new double[original[p].Length];
                foreach (var x in original[p]) scale = Math.Max(scale, Math.Abs(x));
            }
            double h = o.Step * scale;
            for (int d = 0; d < o.Directions; d++)
            {
                double norm2 = 0, along = 0;
                for (int p = 0; p < dir.Length; p++)
                    for (int i = 0; i < dir[p].Length; i++) { dir[p][i] = Gaussian(rng); norm2 += dir[p][i] * dir[p][i]; }
                double inv = 1 / Math.Sqrt(norm2);
                for (int p = 0; p < dir.Length; p++)
                    for (int i = 0; i < dir[p].Length; i++) { dir[p][i] *= inv; along += dir[p][i] * analytic[p][i]; }
                SetAlong(parameters, original, dir, h);
                double fp = Eval();
                SetAlong(parameters, original, dir, -h);
                double fm = Eval();
                SetAlong(parameters, original, dir, 0);
                Compare(along, (fp - fm) / (2 * h), $"direction {d}");
            }
        }
        tape.Reset();
        return new GradCheckResult(maxErr, worst, worstA, worstN, checks, o.Tolerance);
    }

    /// <summary>Like <see cref="Check"/>, throwing <see cref="GradCheckException"/> when the check fails.</summary>
    public static GradCheckResult Assert(Func<Tape<double>, Var<double>> f, IReadOnlyList<Parameter<double>> parameters, GradCheckOptions? options = null)
    {
        var r = Check(f, parameters, options);
        if (!r.Passed) throw new GradCheckException(r.ToString());
        return r;
    }

    private static void SetAlong(IReadOnlyList<Parameter<double>> ps, double[][] original, double[][] dir, double h)
    {
        for (int p = 0; p < ps.Count; p++)
        {
            var w = ps[p].Value.Span;
            for (int i = 0; i < w.Length; i++) w[i] = original[p][i] + h * dir[p][i];
        }
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
