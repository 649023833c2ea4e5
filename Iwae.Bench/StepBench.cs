using BenchmarkDotNet.Attributes;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Bench;

/// <summary>
/// One Adam step of the paper's 1-layer model (784-200-200-50, Bernoulli decoder, batch B, k samples):
/// forward, backward and update. The memory diagnoser shows the allocation per step (0 after warm-up).
/// </summary>
[MemoryDiagnoser]
public class StepBench
{
    [Params(ModelKind.Iwae)]
    public ModelKind Model { get; set; }

    [Params("20x1", "20x5", "20x50", "100x50")]
    public string BatchByK { get; set; } = "20x50";

    [Params(1, 2)]
    public int Threads { get; set; } = 2;

    private Trainer _trainer = null!;
    private int[] _rows = [];

    [GlobalSetup]
    public void Setup()
    {
        var p = BatchByK.Split('x');
        (_trainer, _rows) = Scenarios.Step(Model, int.Parse(p[0]), int.Parse(p[1]), Threads);
    }

    [Benchmark]
    public float Step() => _trainer.Step(_rows);
}

/// <summary>log p(x) at k=5000 for a few test images (per-image time = mean / images).</summary>
[MemoryDiagnoser]
public class EvalBench
{
    public const int Images = 20;

    [Params(1, 2)]
    public int Threads { get; set; } = 2;

    private Iwae<float> _model = null!;
    private Autodiff.Tensor<float> _x;
    private Autodiff.Execution _execution = null!;

    [GlobalSetup]
    public void Setup() => (_model, _x, _execution) = Scenarios.Eval(Images, Threads);

    [Benchmark(OperationsPerInvoke = Images)]
    public double K5000() => Evaluation.LogLikelihoods(_model, _x, 5000, execution: _execution)[0];
}
