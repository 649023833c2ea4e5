using System.Diagnostics;
using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Experiments.Sweeps;

/// <summary>A run's estimated time on this machine.</summary>
/// <param name="Run">The run.</param>
/// <param name="Steps">Optimiser steps over its schedule.</param>
/// <param name="StepMilliseconds">Measured time of one step.</param>
/// <param name="Train">Training time: steps x step time.</param>
/// <param name="Evaluation">The end-of-stage and final evaluations.</param>
public sealed record SweepRunEstimate(SweepRun Run, long Steps, double StepMilliseconds, TimeSpan Train, TimeSpan Evaluation)
{
    /// <summary>Training and evaluation.</summary>
    public TimeSpan Total => Train + Evaluation;
}

/// <summary>
/// How long each run of a plan will take on this machine at a given thread count, from a short measured benchmark:
/// a few optimiser steps of each distinct model shape on the run's own data, and one image group's log-likelihood at
/// a reduced k (its cost is linear in k). Wall time on that many threads, not counting a shared machine's slowdowns.
/// </summary>
public static class SweepEstimate
{
    /// <summary>Fewest steps in each of the three timed windows per shape (each at least 50 ms), after as many warm-up steps and 0.1 s.</summary>
    public const int TimedSteps = 8;

    /// <summary>
    /// The estimate of every run of <paramref name="plan"/> on <paramref name="execution"/>'s thread count (every step on
    /// all of them: the thread policy is left out of the timing).
    /// </summary>
    public static IReadOnlyList<SweepRunEstimate> Measure(SweepPlan plan, Execution execution, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(execution);
        int threads = execution.Threads;
        var data = new Dictionary<(string?, double, Observation), Runs.Data>();
        var stepMs = new Dictionary<string, double>();
        var evalMsPerSample = new Dictionary<string, double>();
        var estimates = new List<SweepRunEstimate>();
        foreach (var run in plan.Runs)
        {
            var o = run.Options;
            var key = (o.Data, o.TestFraction, o.Config.Observation);
            if (!data.TryGetValue(key, out var d)) data[key] = d = Runs.LoadData(o.Settings(""), o.Config.Observation);
            var config = o.Config with { InputSize = d.Train.PixelsPerImage };
            // A VAE's step costs what the IWAE's does: the model kind is left out of the key.
            string shape = $"{(config with { Model = ModelKind.Iwae }).ToJson()}|{o.Train.BatchSize}|{o.Train.Estimator}|{o.Train.Groups}";
            if (!stepMs.TryGetValue(shape, out double ms))
            {
                var model = Runs.CreateModel(config, d.Train, o.Train.Seed);
                var trainer = new Trainer(model, d.Train, o.Train, execution);
                var rows = Enumerable.Range(0, Math.Min(o.Train.BatchSize, d.Train.Count)).ToArray();
                // Warm up until the JIT has tiered the step's code (a tenth of a second), then time as long again.
                var warm = Stopwatch.StartNew();
                for (int i = 0; i < TimedSteps || warm.ElapsedMilliseconds < 100; i++) trainer.Step(rows);
                // The fastest of three windows: a shared machine's other work only ever slows a window down.
                ms = double.MaxValue;
                for (int window = 0; window < 3; window++)
                {
                    var sw = Stopwatch.StartNew();
                    int steps = 0;
                    for (; steps < TimedSteps || sw.ElapsedMilliseconds < 50; steps++) trainer.Step(rows);
                    ms = Math.Min(ms, sw.Elapsed.TotalMilliseconds / steps);
                }
                stepMs[shape] = ms;
                log?.Invoke($"estimate: {config.Architecture} k={config.K} batch {o.Train.BatchSize}: {ms:F2} ms per step on {threads} thread{(threads == 1 ? "" : "s")}");
            }
            string arch = config.ToJson().Replace($"\"k\":{config.K},", "", StringComparison.Ordinal);
            if (!evalMsPerSample.TryGetValue(arch, out double perSample))
            {
                var model = Runs.CreateModel(config, d.Train, o.Train.Seed);
                var x = d.TestX.RowSlice(0, Math.Min(Evaluation.ImagesPerGroup, d.TestX.Rows));
                const int k = 200;
                Evaluation.LogLikelihoods(model, x, k, execution: execution);           // warm-up
                var sw = Stopwatch.StartNew();
                Evaluation.LogLikelihoods(model, x, k, execution: execution);
                evalMsPerSample[arch] = perSample = sw.Elapsed.TotalMilliseconds / (x.Rows * (double)k);
            }
            long total = (long)((d.Train.Count + o.Train.BatchSize - 1) / o.Train.BatchSize) * o.Train.TotalEpochs;
            var settings = o.Settings("");
            int stages = o.Train.Schedule().Count;
            double evalSamples = (double)d.TestX.Rows * o.EvalK * 1 + (double)d.TestX.Rows * (1 + config.K)          // NLL, bounds at 1 and k
                                 + (double)stages * Math.Min(settings.StageEvalImages, d.TestX.Rows) * settings.StageEvalK;
            estimates.Add(new SweepRunEstimate(run, total, ms, TimeSpan.FromMilliseconds(total * ms), TimeSpan.FromMilliseconds(evalSamples * perSample)));
        }
        return estimates;
    }
}
