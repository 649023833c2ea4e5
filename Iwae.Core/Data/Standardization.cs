using Iwae.Autodiff;

namespace Iwae.Core.Data;

/// <summary>
/// A per-dimension affine map of the data, x_std = (x - Mean) / Std, with Mean and Std [D] from a training split
/// (<see cref="Of"/>). A model that standardises (<see cref="Models.ModelConfig.Standardize"/>) keeps them and reports
/// log p(x) = log p(x_std) - sum_d log Std_d, the change of variables, so its likelihoods stay in the data's units.
/// </summary>
/// <param name="Mean">The mean of each dimension, length D.</param>
/// <param name="Std">The standard deviation of each dimension, length D, every value positive.</param>
public sealed record Standardization(float[] Mean, float[] Std)
{
    /// <summary>
    /// The mean and population standard deviation (divided by N) of each column of <paramref name="x"/> [N,D], N >= 1,
    /// accumulated in double (two passes); a dimension that never varies gets a standard deviation of 1, so it is only
    /// centred.
    /// </summary>
    public static Standardization Of(Tensor<float> x)
    {
        if (x.Rows == 0) throw new ArgumentException("the standardisation of an empty data set is undefined", nameof(x));
        int n = x.Rows, d = x.Cols;
        var sum = new double[d];
        for (int r = 0; r < n; r++)
        {
            ReadOnlySpan<float> row = x.Row(r);
            for (int j = 0; j < d; j++) sum[j] += row[j];
        }
        var mean = new double[d];
        for (int j = 0; j < d; j++) mean[j] = sum[j] / n;
        var squares = new double[d];
        for (int r = 0; r < n; r++)
        {
            ReadOnlySpan<float> row = x.Row(r);
            for (int j = 0; j < d; j++) { double u = row[j] - mean[j]; squares[j] += u * u; }
        }
        var m = new float[d];
        var s = new float[d];
        for (int j = 0; j < d; j++)
        {
            m[j] = (float)mean[j];
            float std = (float)Math.Sqrt(squares[j] / n);
            s[j] = std > 0 && float.IsFinite(std) ? std : 1f;
        }
        return new Standardization(m, s);
    }
}
