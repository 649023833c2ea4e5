using System.Diagnostics;
using System.Globalization;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Bench;

/// <summary>
/// `quick step` and `quick eval`: a Stopwatch loop per scenario, one line each, e.g.
/// `step model=iwae batch=20 k=50 threads=2 ms=7.9 gflops=160 bytes_per_step=0` and
/// `eval k=5000 threads=2 ms_per_image=11.0`. The BenchmarkDotNet suites (StepBench, EvalBench) are the
/// reference; this is for a quick look.
/// </summary>
public static class ScenarioQuick
{
    public static void Step(string[] args)
    {
        var opt = Scenarios.QuickOptions(args);
        var threads = opt.TryGetValue("threads", out var t) ? t.Split(',').Select(int.Parse).ToArray() : [1, 2];
        var shapes = opt.TryGetValue("shapes", out var s) ? s.Split(',') : ["20x1", "20x5", "20x50", "100x50"];
        double seconds = opt.TryGetValue("seconds", out var sec) ? double.Parse(sec, CultureInfo.InvariantCulture) : 2;
        foreach (var shape in shapes)
            foreach (int th in threads)
            {
                var p = shape.Split('x');
                int batch = int.Parse(p[0]), k = int.Parse(p[1]);
                var (trainer, rows) = Scenarios.Step(ModelKind.Iwae, batch, k, th);
                long bytes = GC.GetAllocatedBytesForCurrentThread();
                trainer.Step(rows);
                bytes = GC.GetAllocatedBytesForCurrentThread() - bytes;
                double best = double.MaxValue;
                for (int run = 0; run < 5; run++)
                {
                    int n = 0;
                    var sw = Stopwatch.StartNew();
                    while (sw.Elapsed.TotalSeconds < seconds / 5) { trainer.Step(rows); n++; }
                    best = Math.Min(best, sw.Elapsed.TotalMilliseconds / n);
                }
                double gflops = Scenarios.StepFlops(batch, k) / (best * 1e6);
                Console.WriteLine(FormattableString.Invariant($"step model=iwae batch={batch} k={k} threads={th} ms={best:F2} gflops={gflops:F0} bytes_per_step={bytes}"));
            }
    }

    public static void Eval(string[] args)
    {
        var opt = Scenarios.QuickOptions(args);
        var threads = opt.TryGetValue("threads", out var t) ? t.Split(',').Select(int.Parse).ToArray() : [1, 2];
        int images = opt.TryGetValue("images", out var im) ? int.Parse(im) : 40;
        int chunk = opt.TryGetValue("chunk", out var ch) ? int.Parse(ch) : 50;
        foreach (int th in threads)
        {
            var (model, x, execution) = Scenarios.Eval(images, th);
            Evaluation.LogLikelihoods(model, x.RowSlice(0, Math.Min(2, images)), 5000, chunk: chunk, execution: execution);      // warm-up
            var sw = Stopwatch.StartNew();
            Evaluation.LogLikelihoods(model, x, 5000, chunk: chunk, execution: execution);
            double ms = sw.Elapsed.TotalMilliseconds / images;
            double gflops = Scenarios.EvalFlops(5000) / (ms * 1e6);
            Console.WriteLine(FormattableString.Invariant($"eval k=5000 threads={th} ms_per_image={ms:F1} gflops={gflops:F0} images={images}"));
        }
    }
}
