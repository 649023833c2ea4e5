using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Iwae.Autodiff.Kernels;

namespace Iwae.Bench;

/// <summary>
/// The FMA ceiling of one kernel path: every thread runs independent chains of fused multiply-adds of the path's
/// width and nothing else, so no kernel on that path can go faster. A chain's next FMA waits for its last (about 4
/// cycles on Zen and Neoverse cores), and a core starts up to 2 (Zen, 256-bit) or 4 (Neoverse, 128-bit) per cycle, so
/// the probe needs at least latency x pipes chains in flight: 12 on x64 (8 needed; 12 + 2 constants fit AVX2's 16
/// registers, where 16 chains would spill) and 16 for ARM64's 128-bit vectors (32 registers). Threads are started before the clock and
/// released together; the result is the best of several windows.
/// </summary>
public static class PeakProbe
{
    /// <summary>`quick peak [threads=1,2]`: one line per available path and thread count.</summary>
    public static void Run(string[] args)
    {
        var opt = Scenarios.QuickOptions(args);
        var threads = opt.TryGetValue("threads", out var t) ? t.Split(',').Select(int.Parse).ToArray() : [1, 2];
        Console.WriteLine($"# {Environment.ProcessorCount} cpus, {Chains(SimdPath.Vector128)} FMA chains per thread on 128 bits, 12 otherwise, best of 5 windows of 0.2 s");
        foreach (var path in Simd.Available)
            foreach (int th in threads)
                Console.WriteLine($"peak path={path} threads={th} gflops={GFlops(path, th):F1}");
    }

    /// <summary>Independent FMA chains per thread on <paramref name="path"/>: 16 for ARM64's 128-bit loop, else 12.</summary>
    private static int Chains(SimdPath path) => path == SimdPath.Vector128 && Arm64 ? 16 : 12;

    private static bool Arm64 => RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    /// <summary>GFLOP/s of <paramref name="threads"/> threads of FMA chains on <paramref name="path"/>: best of <paramref name="windows"/> windows of about <paramref name="seconds"/>.</summary>
    public static double GFlops(SimdPath path, int threads, double seconds = 0.2, int windows = 5)
    {
        int lanes = path switch
        {
            SimdPath.Vector512 => Vector512<float>.Count,
            SimdPath.Vector256 => Vector256<float>.Count,
            SimdPath.Vector128 => Vector128<float>.Count,
            _ => 1,
        };
        // Calibrate on one thread: iterations for about one window.
        long iters = 100_000;
        while (true)
        {
            var sw = Stopwatch.StartNew();
            Loop(path, iters);
            if (sw.Elapsed.TotalSeconds >= seconds / 4) { iters = (long)(iters * seconds / sw.Elapsed.TotalSeconds); break; }
            iters *= 4;
        }
        double best = 0;
        for (int w = 0; w < windows; w++)
        {
            using var go = new ManualResetEventSlim(false);
            using var ready = new CountdownEvent(threads);
            var ts = Enumerable.Range(0, threads).Select(_ => new Thread(() => { ready.Signal(); go.Wait(); Loop(path, iters); })).ToArray();
            foreach (var t in ts) t.Start();
            ready.Wait();
            var sw = Stopwatch.StartNew();
            go.Set();
            foreach (var t in ts) t.Join();
            best = Math.Max(best, iters * (double)Chains(path) * 2 * lanes * threads / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    private static float Loop(SimdPath path, long iters) => path switch
    {
        SimdPath.Vector512 => Chains512(iters),
        SimdPath.Vector256 => Chains256(iters),
        SimdPath.Vector128 => Chains(path) == 16 ? Chains128x16(iters) : Chains128(iters),
        _ => ChainsScalar(iters),
    };

    // One loop per width and chain count: the chains must be locals (registers), so they cannot be an array. Compiled
    // fully at once: tier-0 code keeps locals in memory, and on-stack replacement would time a different loop.

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(long iters)
    {
        var (a, b) = (Vector512.Create(1f), Vector512.Create(0.999f));
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, b, a); c1 = Vector512.FusedMultiplyAdd(c1, b, a); c2 = Vector512.FusedMultiplyAdd(c2, b, a);
            c3 = Vector512.FusedMultiplyAdd(c3, b, a); c4 = Vector512.FusedMultiplyAdd(c4, b, a); c5 = Vector512.FusedMultiplyAdd(c5, b, a);
            c6 = Vector512.FusedMultiplyAdd(c6, b, a); c7 = Vector512.FusedMultiplyAdd(c7, b, a); c8 = Vector512.FusedMultiplyAdd(c8, b, a);
            c9 = Vector512.FusedMultiplyAdd(c9, b, a); c10 = Vector512.FusedMultiplyAdd(c10, b, a); c11 = Vector512.FusedMultiplyAdd(c11, b, a);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(long iters)
    {
        var (a, b) = (Vector256.Create(1f), Vector256.Create(0.999f));
        Vector256<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, b, a); c1 = Vector256.FusedMultiplyAdd(c1, b, a); c2 = Vector256.FusedMultiplyAdd(c2, b, a);
            c3 = Vector256.FusedMultiplyAdd(c3, b, a); c4 = Vector256.FusedMultiplyAdd(c4, b, a); c5 = Vector256.FusedMultiplyAdd(c5, b, a);
            c6 = Vector256.FusedMultiplyAdd(c6, b, a); c7 = Vector256.FusedMultiplyAdd(c7, b, a); c8 = Vector256.FusedMultiplyAdd(c8, b, a);
            c9 = Vector256.FusedMultiplyAdd(c9, b, a); c10 = Vector256.FusedMultiplyAdd(c10, b, a); c11 = Vector256.FusedMultiplyAdd(c11, b, a);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains128(long iters)
    {
        var (a, b) = (Vector128.Create(1f), Vector128.Create(0.999f));
        Vector128<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = Vector128.FusedMultiplyAdd(c0, b, a); c1 = Vector128.FusedMultiplyAdd(c1, b, a); c2 = Vector128.FusedMultiplyAdd(c2, b, a);
            c3 = Vector128.FusedMultiplyAdd(c3, b, a); c4 = Vector128.FusedMultiplyAdd(c4, b, a); c5 = Vector128.FusedMultiplyAdd(c5, b, a);
            c6 = Vector128.FusedMultiplyAdd(c6, b, a); c7 = Vector128.FusedMultiplyAdd(c7, b, a); c8 = Vector128.FusedMultiplyAdd(c8, b, a);
            c9 = Vector128.FusedMultiplyAdd(c9, b, a); c10 = Vector128.FusedMultiplyAdd(c10, b, a); c11 = Vector128.FusedMultiplyAdd(c11, b, a);
        }
        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains128x16(long iters)
    {
        var (a, b) = (Vector128.Create(1f), Vector128.Create(0.999f));
        Vector128<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a, c12 = a, c13 = a, c14 = a, c15 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = Vector128.FusedMultiplyAdd(c0, b, a); c1 = Vector128.FusedMultiplyAdd(c1, b, a); c2 = Vector128.FusedMultiplyAdd(c2, b, a);
            c3 = Vector128.FusedMultiplyAdd(c3, b, a); c4 = Vector128.FusedMultiplyAdd(c4, b, a); c5 = Vector128.FusedMultiplyAdd(c5, b, a);
            c6 = Vector128.FusedMultiplyAdd(c6, b, a); c7 = Vector128.FusedMultiplyAdd(c7, b, a); c8 = Vector128.FusedMultiplyAdd(c8, b, a);
            c9 = Vector128.FusedMultiplyAdd(c9, b, a); c10 = Vector128.FusedMultiplyAdd(c10, b, a); c11 = Vector128.FusedMultiplyAdd(c11, b, a);
            c12 = Vector128.FusedMultiplyAdd(c12, b, a); c13 = Vector128.FusedMultiplyAdd(c13, b, a); c14 = Vector128.FusedMultiplyAdd(c14, b, a);
            c15 = Vector128.FusedMultiplyAdd(c15, b, a);
        }
        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float ChainsScalar(long iters)
    {
        const float a = 1f, b = 0.999f;
        float c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = MathF.FusedMultiplyAdd(c0, b, a); c1 = MathF.FusedMultiplyAdd(c1, b, a); c2 = MathF.FusedMultiplyAdd(c2, b, a);
            c3 = MathF.FusedMultiplyAdd(c3, b, a); c4 = MathF.FusedMultiplyAdd(c4, b, a); c5 = MathF.FusedMultiplyAdd(c5, b, a);
            c6 = MathF.FusedMultiplyAdd(c6, b, a); c7 = MathF.FusedMultiplyAdd(c7, b, a); c8 = MathF.FusedMultiplyAdd(c8, b, a);
            c9 = MathF.FusedMultiplyAdd(c9, b, a); c10 = MathF.FusedMultiplyAdd(c10, b, a); c11 = MathF.FusedMultiplyAdd(c11, b, a);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
    }
}
