using System.Diagnostics;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Bench;

/// <summary>
/// `dotnet run -c Release --project Iwae.Bench -- quick gemm [shapes=MxKxN,..] [forms=NN,NT,TN] [threads=1,2]
/// [seconds=0.25] [path=512|256|128|scalar] [acc=0|1]`: a Stopwatch loop per scenario, one line each, GFLOP/s = 2mnk / time.
/// Shapes read m x k x n whatever the form (NT reads B as [n,k], TN reads A as [k,m]).
/// </summary>
public static class GemmQuick
{
    private static readonly string[] DefaultShapes =
        ["1000x784x200", "1000x200x200", "1000x200x784", "20x784x200", "20x200x784", "100x200x784"];

    public static void Run(string[] args)
    {
        var opt = Scenarios.QuickOptions(args);
        var shapes = opt.TryGetValue("shapes", out var s) ? s.Split(',') : DefaultShapes;
        var forms = opt.TryGetValue("forms", out var f) ? f.Split(',') : ["NN", "NT", "TN"];
        var threads = opt.TryGetValue("threads", out var t) ? t.Split(',').Select(int.Parse).ToArray() : [1, 2];
        double seconds = opt.TryGetValue("seconds", out var sec) ? double.Parse(sec) : 0.25;
        // acc=1 adds into C, as the model's calls do (Linear adds to the bias, backward adds to gradients).
        bool acc = opt.GetValueOrDefault("acc") == "1";
        SimdPath path = Simd.Named(opt.GetValueOrDefault("path")) ?? Simd.Best;
        Console.WriteLine($"# {Environment.ProcessorCount} cpus, path={path}, {seconds}s per line, best of 5 runs");
        // A shared VM does not always deliver its cores: the FMA-only loops of this path show what it gives right now.
        foreach (int th in threads) Console.WriteLine($"peak path={path} threads={th} gflops={PeakProbe.GFlops(path, th):F1}");
        foreach (var shape in shapes)
        {
            var d = shape.Split('x').Select(int.Parse).ToArray();
            var (m, k, n) = (d[0], d[1], d[2]);
            var rng = new Rng(1);
            var a = new float[m * k];
            var b = new float[k * n];
            var c = new float[m * n];
            for (int i = 0; i < a.Length; i++) a[i] = 2 * rng.NextFloat() - 1;
            for (int i = 0; i < b.Length; i++) b[i] = 2 * rng.NextFloat() - 1;
            foreach (var form in forms)
                foreach (int th in threads)
                {
                    var execution = Scenarios.Execution(th);
                    Action call = form switch
                    {
                        "NN" => () => Gemm.NN<float>(a, b, c, m, n, k, acc, path, execution),
                        "NT" => () => Gemm.NT<float>(a, b, c, m, n, k, acc, path, execution),
                        "TN" => () => Gemm.TN<float>(a, b, c, m, n, k, acc, path, execution: execution),
                        _ => throw new ArgumentException($"unknown form {form}"),
                    };
                    long shares = execution.SharesByWorkers;
                    double best = Measure(call, seconds / 5, 5);
                    shares = execution.SharesByWorkers - shares;
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    call();
                    long alloc = GC.GetAllocatedBytesForCurrentThread() - before;
                    double gflops = 2.0 * m * n * k / best / 1e9;
                    Console.WriteLine($"gemm form={form} m={m} n={n} k={k} acc={(acc ? 1 : 0)} threads={th} gflops={gflops:F1} us={best * 1e6:F1} alloc={alloc} worker_shares={shares}");
                }
        }
        foreach (int th in threads) Console.WriteLine($"peak path={path} threads={th} gflops={PeakProbe.GFlops(path, th):F1}");
    }

    /// <summary>Seconds per call: the best mean over <paramref name="runs"/> runs of about <paramref name="seconds"/> each.</summary>
    internal static double Measure(Action call, double seconds, int runs)
    {
        // Long enough for tiered compilation to finish with everything the call touches.
        var sw = Stopwatch.StartNew();
        int reps = 0;
        while (sw.Elapsed.TotalSeconds < 0.2 || reps < 50) { call(); reps++; }
        int perRun = Math.Max(1, (int)(reps * seconds / sw.Elapsed.TotalSeconds));
        double best = double.MaxValue;
        for (int r = 0; r < runs; r++)
        {
            sw.Restart();
            for (int i = 0; i < perRun; i++) call();
            best = Math.Min(best, sw.Elapsed.TotalSeconds / perRun);
        }
        return best;
    }
}
