using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments;

namespace Iwae.Bench;

/// <summary>The model-level workloads shared by the BenchmarkDotNet suites and the quick mode.</summary>
public static class Scenarios
{
    /// <summary>A `quick` mode's key=value arguments (other words are ignored).</summary>
    public static Dictionary<string, string> QuickOptions(string[] args) =>
        args.Select(a => a.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);

    private static Dataset? s_train;
    private static Tensor<float> s_test;
    private static readonly Dictionary<int, Execution> s_executions = [];

    /// <summary>An execution of <paramref name="threads"/> threads (every step on all of them), one per count for the whole run.</summary>
    public static Execution Execution(int threads)
    {
        lock (s_executions)
        {
            if (!s_executions.TryGetValue(threads, out var e)) s_executions[threads] = e = new Execution(threads, ThreadPolicy.Fixed);
            return e;
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
        var trainer = new Trainer(m, train, new TrainOptions { Epochs = 1, BatchSize = batch }, Execution(threads));
        var rows = Enumerable.Range(0, batch).ToArray();
        for (int i = 0; i < 3; i++) trainer.Step(rows);
        return (trainer, rows);
    }

    /// <summary>A model, test images and an execution of <paramref name="threads"/> threads for the k=5000 evaluation.</summary>
    public static (Iwae<float> Model, Tensor<float> X, Execution Execution) Eval(int images, int threads)
    {
        var (train, testX) = Data();
        var m = Runs.CreateModel(new ModelConfig(), train, 1);
        return (m, testX.RowSlice(0, images), Execution(threads));
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
