using System.Globalization;
using System.Security.Cryptography;
using Iwae.Autodiff;
using Iwae.Autodiff.Kernels;

namespace Iwae.Bench;

/// <summary>
/// `quick digest`: every kernel of the training path on fixed inputs (odd sizes, so every tail runs), on every path
/// this machine has, one line per kernel and path with a hash of its output bits. Every path must give the same
/// hash, and so must every machine: scripts/arm64/check.sh compares the lines of x64 and of linux-arm64 under qemu.
/// Exits 1 when two paths of this machine differ.
/// </summary>
public static class KernelDigest
{
    public static int Run(string[] args)
    {
        Console.WriteLine($"# digest: paths {string.Join(",", Simd.Available)}");
        var hashes = new Dictionary<string, HashSet<string>>();
        foreach (var path in Simd.Available)
            foreach (var (kernel, bits) in Kernels(path))
            {
                string hash = Convert.ToHexString(SHA256.HashData(bits))[..16].ToLowerInvariant();
                Console.WriteLine($"digest kernel={kernel} path={path} sha256={hash}");
                if (!hashes.TryGetValue(kernel, out var set)) hashes[kernel] = set = [];
                set.Add(hash);
            }
        var differ = hashes.Where(h => h.Value.Count > 1).Select(h => h.Key).ToArray();
        Console.WriteLine(differ.Length == 0
            ? $"digest kernels={hashes.Count} every path the same bits"
            : $"digest kernels={hashes.Count} paths differ in: {string.Join(", ", differ)}");
        return differ.Length == 0 ? 0 : 1;
    }

    private static float[] Values(int n, ulong seed, float scale = 1)
    {
        var rng = new Rng(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = scale * (2 * rng.NextFloat() - 1);
        return v;
    }

    private static byte[] Bits(params float[][] outputs)
        => [.. outputs.SelectMany(o => o.SelectMany(BitConverter.GetBytes))];

    /// <summary>Each kernel's output bits on <paramref name="path"/>, single-threaded (thread counts are tested elsewhere).</summary>
    private static IEnumerable<(string Kernel, byte[] Bits)> Kernels(SimdPath path)
    {
        const int m = 37, n = 29, k = 401, rows = 13, cols = 785;
        var a = Values(m * k, 1);
        var b = Values(k * n, 2, 0.1f);
        var at = Values(k * m, 3);
        var bias = Values(n, 4);
        foreach (var (form, accumulate) in new[] { ("nn", true), ("nt", false), ("tn", true) })
        {
            var c = Values(m * n, 5);
            switch (form)
            {
                case "nn": Gemm.NN<float>(a, b, c, m, n, k, accumulate, path); break;
                case "nt": Gemm.NT<float>(a, Values(n * k, 6), c, m, n, k, accumulate, path); break;
                default: Gemm.TN<float>(at, b, c, m, n, k, accumulate, path); break;
            }
            yield return ($"gemm.{form}", Bits(c));
        }
        var lin = new float[m * n];
        Gemm.Linear<float>(a, b, bias, lin, m, n, k, tanh: true, path);
        yield return ("linear.tanh", Bits(lin));
        var x = Values(m * n, 7).Select(v => v > 0 ? 1f : 0f).ToArray();
        var (y, residual) = (new float[m], new float[m * n]);
        Gemm.LinearBernoulli(a, b, bias, x, y, residual, m, n, k, residual: true, path);
        yield return ("linear.bernoulli", Bits(y, residual));

        var l = Values(rows * cols, 8, 30);
        var xb = Values(rows * cols, 9).Select(v => v > 0 ? 1f : 0f).ToArray();
        var dy = Values(rows, 10);
        var ll = new float[rows];
        Bernoulli.LogLikRows(l, xb, ll, cols, path);
        var dl = new float[rows * cols];
        Bernoulli.Backward(l, xb, dy, dl, cols, path);
        yield return ("bernoulli", Bits(ll, dl));

        var z = Values(rows * cols, 11, 3);
        var mu = Values(rows * cols, 12, 3);
        var s = Values(rows * cols, 13, 4);
        var lg = new float[rows];
        Gaussian.LogDensityRows(z, mu, s, lg, cols, path);
        var (dz, dmu, ds) = (new float[rows * cols], new float[rows * cols], new float[rows * cols]);
        Gaussian.Backward(z, mu, s, dy, dz, dmu, ds, cols, path);
        yield return ("gaussian", Bits(lg, dz, dmu, ds));

        var fused = new float[cols];
        Gemm.Axpy(0.37f, Values(cols, 14), fused, path);
        Gemm.Axpy(-1.3f, Values(cols, 15), fused, path);
        yield return ("axpy", Bits(fused));
    }
}
