using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Iwae.Autodiff.Kernels;

namespace Iwae.Bench;

/// <summary>
/// Every BenchmarkDotNet suite runs once per kernel path: one job per path, each a process of its own started with
/// IWAE_SIMD set (the path is chosen once, at start-up), so one table shows the paths side by side in its Job column.
/// `--paths 256,128` picks some (scalar, 128, 256, 512); by default, every path this machine accelerates. `--job
/// dry|short|medium|long|default` sets how long each path's job runs (read here, so that it shapes the path jobs
/// instead of adding a job of its own beside them).
/// </summary>
public static class PathJobs
{
    /// <summary>The config for <paramref name="args"/>, and the arguments left for BenchmarkDotNet.</summary>
    public static (IConfig Config, string[] Others) Read(string[] args)
    {
        var paths = Take(ref args, "--paths") is string list
            ? list.Split(',').Select(p => Simd.Named(p.Trim()) ?? throw new ArgumentException($"--paths: '{p}' is not one of scalar, 128, 256, 512")).Distinct().ToList()
            : [.. Simd.Available];
        foreach (var p in paths)
            if (!Simd.IsSupported(p)) throw new ArgumentException($"--paths: {p} is not accelerated on this machine (it has {string.Join(", ", Simd.Available)})");
        var job = Take(ref args, "--job") switch
        {
            null or "default" => Job.Default,
            "dry" => Job.Dry,
            "short" => Job.ShortRun,
            "medium" => Job.MediumRun,
            "long" => Job.LongRun,
            var j => throw new ArgumentException($"--job: '{j}' is not one of dry, short, medium, long, default"),
        };
        var config = ManualConfig.Create(DefaultConfig.Instance);
        foreach (var p in paths)
            config.AddJob(job.WithEnvironmentVariable("IWAE_SIMD", Name(p)).WithId(p.ToString()));
        return (config, args);
    }

    private static string? Take(ref string[] args, string option)
    {
        int i = Array.IndexOf(args, option);
        if (i < 0) return null;
        if (i + 1 >= args.Length) throw new ArgumentException($"{option} needs a value");
        string value = args[i + 1];
        args = [.. args[..i], .. args[(i + 2)..]];
        return value;
    }

    private static string Name(SimdPath p) => p switch
    {
        SimdPath.Scalar => "scalar",
        SimdPath.Vector128 => "128",
        SimdPath.Vector256 => "256",
        _ => "512",
    };
}
