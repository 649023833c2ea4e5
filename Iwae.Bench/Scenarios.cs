using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments;

namespace Iwae.Bench;

/// <summary>The model-level workloads shared by the BenchmarkDotNet suites and the quick mode.</summary>
public static class Scenarios
{
    private static Dataset? s_train;
    private static Tensor<float> s_test;
    private static readonly Dictionary<int, ComputeContext> s_contexts = [];

    /// <summary>A compute context of <paramref name="threads"/> threads, one per count for the whole run.</summary>
    public static ComputeContext Compute(int threads)
    {
        lock (s_contexts)
        {
            if (!s_contexts.TryGetValue(threads, out var c)) s_contexts[threads] = c = new ComputeContext(threads);
            return c;
        }
    }

    /// <summary>The embedded MNIST subset (train set, binarised test set), loaded once.</summary>
    public static (Dataset Train, Tensor<float> TestX) Data()
    {
        if (s_train is null)
        {
            var d = Runs.LoadData(new RunSettings());
            (s_train, s_test) = (d.Train, d.TestX);
        }
        return (s_train, s_test);
    }

    /// <summary>A trainer on the paper's 1-layer model (784-200-200-50), warmed up so that steps allocate nothing.</summary>
    public static (Trainer Trainer, int[] Rows) Step(ModelKind model, int batch, int k, int threads)
    {
        var (train, _) = Data();
        var m = Runs.CreateModel(new ModelConfig { Model = model, K = k }, train, 1);
        var trainer = new Trainer(m, train, new TrainOptions { Epochs = 1, BatchSize = batch }, Compute(threads));
        var rows = Enumerable.Range(0, batch).ToArray();
        for (int i = 0; i < 3; i++) trainer.Step(rows);
        return (trainer, rows);
    }

    /// <summary>A model, test images and a context of <paramref name="threads"/> threads for the k=5000 evaluation.</summary>
    public static (Iwae<float> Model, Tensor<float> X, ComputeContext Compute) Eval(int images, int threads)
    {
        var (train, testX) = Data();
        var m = Runs.CreateModel(new ModelConfig(), train, 1);
        return (m, testX.RowSlice(0, images), Compute(threads));
    }

    /// <summary>
    /// FLOPs of one training step of the 1-layer model: forward, and backward at twice the forward cost
    /// (dX and dW GEMMs), for the encoder on B rows and the decoder on k*B rows. GEMMs only.
    /// </summary>
    public static double StepFlops(int batch, int k)
    {
        double enc = 784.0 * 200 + 200 * 200 + 2 * 200 * 50;
        double dec = 50.0 * 200 + 200 * 200 + 200 * 784;
        return 2 * 3 * (batch * enc + (double)k * batch * dec);
    }

    /// <summary>FLOPs of the decoder forward pass for <paramref name="samples"/> samples.</summary>
    public static double EvalFlops(int samples) => 2.0 * samples * (50 * 200 + 200 * 200 + 200 * 784);
}
