using Iwae.Core.Analysis;

namespace Iwae.Tests.Core.Analysis;

/// <summary>Principal axes of latent means: a case worked by hand, a noisy cloud, and the eigensolver on its own.</summary>
public class PcaTests
{
    [Test]
    public void Project2_MatchesAHandWorkedCase()
    {
        // Four points about the mean m = (1, -3, 5): +-2 u1 and +-1 u2 with u1 = (3, 4, 0)/5, u2 = (-4, 3, 0)/5. The
        // covariance (n - 1 = 3) has eigenvalues 8/3 along u1 and 2/3 along u2, 0 along z: 80% and 20% of the variance.
        // Axis 1's largest loading (0.8) is positive as it stands; axis 2's (-0.8) is not, so axis 2 is -u2 = (0.8, -0.6, 0).
        float[] points =
        [
            1 + 1.2f, -3 + 1.6f, 5,
            1 - 1.2f, -3 - 1.6f, 5,
            1 - 0.8f, -3 + 0.6f, 5,
            1 + 0.8f, -3 - 0.6f, 5,
        ];
        var (x, y, explained) = Pca.Project2(points, 4, 3);
        // Within float32's rounding of the points.
        Assert.That(x, Is.EqualTo(new[] { 2.0, -2, 0, 0 }).Within(1e-6));
        Assert.That(y, Is.EqualTo(new[] { 0.0, 0, -1, 1 }).Within(1e-6));
        Assert.That(explained, Is.EqualTo(new[] { 0.8, 0.2 }).Within(1e-6));
    }

    [Test]
    public void Project2_RefusesAMismatchedShape()
        => Assert.That(() => Pca.Project2(new float[7], 2, 3), Throws.ArgumentException.With.Message.Contains("2x3"));

    [Test]
    public void Project2_FindsTheDirectionOfLargestVariance()
    {
        // Points spread along (1, 2, 0)/sqrt 5 with small noise in the other directions.
        var rng = new Random(7);
        int n = 500;
        var points = new float[n * 3];
        for (int i = 0; i < n; i++)
        {
            double t = rng.NextDouble() * 10 - 5, u = rng.NextDouble() - 0.5, v = (rng.NextDouble() - 0.5) * 0.1;
            points[3 * i] = (float)(t / Math.Sqrt(5) + 2 * u / Math.Sqrt(5) + 3);
            points[3 * i + 1] = (float)(2 * t / Math.Sqrt(5) - u / Math.Sqrt(5) - 1);
            points[3 * i + 2] = (float)v;
        }
        var (x, y, explained) = Pca.Project2(points, n, 3);
        Assert.That(explained[0], Is.GreaterThan(0.95));
        Assert.That(explained[0] + explained[1], Is.GreaterThan(0.999));
        Assert.That(x.Average(), Is.EqualTo(0).Within(1e-6), "centred");
        // The projection on axis 1 is the t the points were made from (up to sign, fixed positive here).
        double corr = Correlation(x, Enumerable.Range(0, n).Select(i => points[3 * i] + 2.0 * points[3 * i + 1]).ToArray());
        Assert.That(Math.Abs(corr), Is.GreaterThan(0.99));
        Assert.That(Correlation(x, y), Is.EqualTo(0).Within(1e-6), "axes uncorrelated");
    }

    [Test]
    public void SymmetricEigen_DiagonalisesAKnownMatrix()
    {
        var (values, vectors) = Pca.SymmetricEigen(new double[,] { { 2, 1 }, { 1, 2 } });
        Assert.That(values.Order(), Is.EqualTo(new[] { 1.0, 3.0 }).Within(1e-12));
        int big = values[0] > values[1] ? 0 : 1;
        Assert.That(Math.Abs(vectors[0, big]), Is.EqualTo(Math.Sqrt(0.5)).Within(1e-12));
        Assert.That(vectors[0, big] * vectors[1, big], Is.GreaterThan(0), "eigenvector (1, 1)/sqrt 2");
    }

    private static double Correlation(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb); }
        return sab / Math.Sqrt(saa * sbb);
    }
}
