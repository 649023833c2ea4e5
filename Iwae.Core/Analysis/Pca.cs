namespace Iwae.Core.Analysis;

/// <summary>
/// Principal components of a small-dimensional point cloud (latent means: d is tens), from the d x d covariance
/// by cyclic Jacobi rotations: exact to rounding and no convergence tuning, which power iteration would need
/// when the top eigenvalues are close.
/// </summary>
public static class Pca
{
    /// <summary>
    /// Projects <paramref name="n"/> points of dimension <paramref name="d"/> (row-major) onto their first two
    /// principal axes. Each axis's sign is fixed so its largest-magnitude loading is positive (deterministic).
    /// </summary>
    /// <returns>The coordinates on axis 1 and 2, and the fraction of the total variance each axis explains.</returns>
    public static (double[] X, double[] Y, double[] Explained) Project2(ReadOnlySpan<float> points, int n, int d)
    {
        if (points.Length != n * d) throw new ArgumentException($"expected {n}x{d} = {n * d} values, got {points.Length}");
        var mean = new double[d];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++) mean[j] += points[r * d + j];
        for (int j = 0; j < d; j++) mean[j] /= Math.Max(1, n);
        var cov = new double[d, d];
        var row = new double[d];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < d; j++) row[j] = points[r * d + j] - mean[j];
            for (int a = 0; a < d; a++)
                for (int b = a; b < d; b++) cov[a, b] += row[a] * row[b];
        }
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++) cov[b, a] = cov[a, b] /= Math.Max(1, n - 1);

        var (values, vectors) = SymmetricEigen(cov);
        var order = Enumerable.Range(0, d).OrderByDescending(i => values[i]).ToArray();
        double total = values.Sum(v => Math.Max(0, v));
        var xs = new double[n];
        var ys = new double[n];
        var explained = new double[2];
        for (int axis = 0; axis < Math.Min(2, d); axis++)
        {
            int c = order[axis];
            int big = 0;
            for (int j = 1; j < d; j++) if (Math.Abs(vectors[j, c]) > Math.Abs(vectors[big, c])) big = j;
            double sign = vectors[big, c] < 0 ? -1 : 1;
            var dst = axis == 0 ? xs : ys;
            for (int r = 0; r < n; r++)
            {
                double s = 0;
                for (int j = 0; j < d; j++) s += (points[r * d + j] - mean[j]) * vectors[j, c];
                dst[r] = sign * s;
            }
            explained[axis] = total > 0 ? Math.Max(0, values[c]) / total : 0;
        }
        return (xs, ys, explained);
    }

    /// <summary>Eigenvalues and eigenvectors (columns) of a symmetric matrix, by cyclic Jacobi rotations.</summary>
    public static (double[] Values, double[,] Vectors) SymmetricEigen(double[,] symmetric)
    {
        int d = symmetric.GetLength(0);
        var a = (double[,])symmetric.Clone();
        var v = new double[d, d];
        for (int i = 0; i < d; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, norm = 0;
            for (int p = 0; p < d; p++)
                for (int q = 0; q < d; q++)
                {
                    norm += a[p, q] * a[p, q];
                    if (p != q) off += a[p, q] * a[p, q];
                }
            if (off <= 1e-24 * norm || off == 0) break;
            for (int p = 0; p < d - 1; p++)
                for (int q = p + 1; q < d; q++)
                {
                    if (a[p, q] == 0) continue;
                    // The rotation that zeroes a[p,q] (Golub and Van Loan, section 8.5).
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < d; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < d; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < d; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
        }
        var values = new double[d];
        for (int i = 0; i < d; i++) values[i] = a[i, i];
        return (values, v);
    }
}
