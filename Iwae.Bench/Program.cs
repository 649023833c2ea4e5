using BenchmarkDotNet.Running;
using Iwae.Bench;

if (args.Length >= 1 && args[0] == "quick")
{
    string what = args.Length >= 2 && !args[1].Contains('=') ? args[1] : "all";
    var rest = args.Skip(what == "all" ? 1 : 2).ToArray();
    if (what is "all" or "gemm") GemmQuick.Run(rest);
    if (what is "all" or "step") ScenarioQuick.Step(rest);
    if (what is "all" or "eval") ScenarioQuick.Eval(rest);
    if (what is "snr") SnrQuick.Run(rest);       // not in "all": a diagnostic, not a speed figure
    if (what is "cores") CoreProbe.Run(rest);    // the same: how fast two threads talk on this machine right now
    if (what is "peak") PeakProbe.Run(rest);     // every path's FMA ceiling on 1 and 2 threads
    if (what is "tile") TileProbe.Run(rest);     // each path's micro-kernel alone, in L1, against that ceiling
    if (what is "digest") return KernelDigest.Run(rest);   // each kernel's output bits on every path, hashed
    if (what is "anomaly") AnomalyQuick.Run(rest);   // detection quality on the digits, ours against randomized PCA
}
else
{
    var (config, rest) = PathJobs.Read(args);        // one job per kernel path (IWAE_SIMD), side by side
    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, config);
}
return 0;
