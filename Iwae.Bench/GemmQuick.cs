using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Bench;

/// <summary>
/// `dotnet run -c Release --project Iwae.Bench -- quick gemm [shapes=MxKxN,..] [forms=NN,NT,TN] [threads=1,2]
/// [seconds=0.25] [path=512|256|scalar] [acc=0|1]`: a Stopwatch loop per scenario, one line each, GFLOP/s = 2mnk / time.
/// Shapes read m x k x n whatever the form (NT reads B as [n,k], TN reads A as [k,m]).
/// </summary>
public static class GemmQuick
{
    private static readonly string[] DefaultShapes =
        ["1000x784x200", "1000x200x200", "1000x200x784", "20x784x200", "20x200x784", "100x200x784"];

    public static void Run(string[] args)
    {
        var opt = args.Select(a => a.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);
        var shapes = opt.TryGetValue("shapes", out var s) ? s.Split(',') : DefaultShapes;
        var forms = opt.TryGetValue("forms", out var f) ? f.Split(',') : ["NN", "NT", "TN"];
        var threads = opt.TryGetValue("threads", out var t) ? t.Split(',').Select(int.Parse).ToArray() : [1, 2];
        double seconds = opt.TryGetValue("seconds", out var sec) ? double.Parse(sec) : 0.25;
        // acc=1 adds into C, as the model's calls do (Linear adds to the bias, backward adds to gradients).
        bool acc = opt.GetValueOrDefault("acc") == "1";
        SimdPath path = opt.GetValueOrDefault("path") switch
        {
            "scalar" => SimdPath.Scalar,
            "128" => SimdPath.Vector128,
            "256" => SimdPath.Vector256,
            "512" => SimdPath.Vector512,
            _ => Simd.Best,
        };
        Console.WriteLine($"# {Environment.ProcessorCount} cpus, path={path}, {seconds}s per line, best of 5 runs");
        // A shared VM does not always deliver its cores: this FMA-only loop shows what it gives right now.
        foreach (int th in threads) Console.WriteLine($"peak threads={th} gflops={Peak(th):F1}");
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
        foreach (int th in threads) Console.WriteLine($"peak threads={th} gflops={Peak(th):F1}");
    }

    /// <summary>GFLOP/s of independent 512-bit FMA chains on <paramref name="threads"/> fresh threads: the ceiling.</summary>
    private static double Peak(int threads)
    {
        const long iters = 20_000_000;
        var ts = Enumerable.Range(0, threads).Select(_ => new Thread(() => FmaLoop(iters))).ToArray();
        var sw = Stopwatch.StartNew();
        foreach (var t in ts) t.Start();
        foreach (var t in ts) t.Join();
        return iters * 8.0 * 2 * Vector512<float>.Count * threads / sw.Elapsed.TotalSeconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float FmaLoop(long iters)
    {
        var a = Vector512.Create(1f);
        var b = Vector512.Create(0.999f);
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, b, a); c1 = Vector512.FusedMultiplyAdd(c1, b, a);
            c2 = Vector512.FusedMultiplyAdd(c2, b, a); c3 = Vector512.FusedMultiplyAdd(c3, b, a);
            c4 = Vector512.FusedMultiplyAdd(c4, b, a); c5 = Vector512.FusedMultiplyAdd(c5, b, a);
            c6 = Vector512.FusedMultiplyAdd(c6, b, a); c7 = Vector512.FusedMultiplyAdd(c7, b, a);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7);
    }

    /// <summary>Seconds per call: the best mean over <paramref name="runs"/> runs of about <paramref name="seconds"/> each.</summary>
    private static double Measure(Action call, double seconds, int runs)
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
