using Iwae.Autodiff;
using Iwae.Core;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;

namespace Iwae.Tests.Core.Training;

/// <summary>
/// The validation split, the validation bound, early stopping and the best epoch's weights (TrainOptions.ValidationFraction,
/// ValidationK, Patience; Trainer.Validation, BestParameters, UseBestWeights), and their round trip through a checkpoint.
/// </summary>
public class ValidationTests
{
    private static Dataset _small = null!;

    [OneTimeSetUp]
    public void LoadSmallSubset()
    {
        _small = TestUtil.MnistHead(200);
    }

    private static readonly ModelConfig Config = new() { K = 3, Hidden = [24], Latent = 4 };

    private static Iwae<float> Model(TrainOptions options) => Runs.CreateModel(Config, ValidationSplit.Of(_small, options.ValidationFraction).Fit, options.Seed);

    private static float[] Flat(IEnumerable<Parameter<float>> ps) => ps.SelectMany(p => p.Value.ToArray()).ToArray();

    [Test]
    public void Split_IsDisjoint_CoversTheTrainingSet_KeepsOrder_AndIsTheSameEveryTime()
    {
        var (fit, validation) = ValidationSplit.Rows(200, 0.2);
        Assert.That(validation, Has.Length.EqualTo(40));
        Assert.That(fit, Has.Length.EqualTo(160));
        Assert.That(fit.Intersect(validation), Is.Empty, "no example both trains and validates");
        Assert.That(fit.Concat(validation).Order(), Is.EqualTo(Enumerable.Range(0, 200)), "every training example is in one part");
        Assert.That(fit, Is.Ordered.And.Unique);
        Assert.That(validation, Is.Ordered.And.Unique);
        Assert.That(validation, Is.Not.EqualTo(Enumerable.Range(0, 40)), "shuffled, not the first rows");
        Assert.That(ValidationSplit.Rows(200, 0.2), Is.EqualTo((fit, validation)).Using<(int[], int[])>((a, b) => a.Item1.SequenceEqual(b.Item1) && a.Item2.SequenceEqual(b.Item2)), "seeded");

        Assert.That(ValidationSplit.Rows(200, 0).Validation, Is.Empty);
        Assert.That(ValidationSplit.HeldOut(3, 0.01), Is.EqualTo(1), "at least one held out");
        Assert.That(ValidationSplit.HeldOut(2, 0.5), Is.EqualTo(1), "at least one left to train on");
        Assert.That(() => ValidationSplit.HeldOut(1, 0.5), Throws.ArgumentException.With.Message.Contains("too few"));

        var (fitSet, validationSet) = ValidationSplit.Of(_small, 0.2);
        Assert.That(fitSet.Count + validationSet!.Count, Is.EqualTo(_small.Count));
        Assert.That(validationSet.Images.Row(0).ToArray(), Is.EqualTo(_small.Images.Row(validation[0]).ToArray()));
        Assert.That(ValidationSplit.Of(_small, 0).Fit, Is.SameAs(_small), "no split: the training set itself");
    }

    [Test]
    public void RunData_ValidationComesFromTheTrainingSplit_NeverTheTest()
    {
        var (train, test) = DataSource.Load(null);
        var (_, validation) = ValidationSplit.Of(train, 0.1);
        var testRows = new HashSet<string>(Enumerable.Range(0, test.Count).Select(i => Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(test.Images.Row(i)).ToArray())));
        var trainRows = new HashSet<string>(Enumerable.Range(0, train.Count).Select(i => Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(train.Images.Row(i)).ToArray())));
        for (int i = 0; i < validation!.Count; i++)
        {
            string row = Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(validation.Images.Row(i)).ToArray());
            Assert.That(trainRows, Does.Contain(row));
            Assert.That(testRows, Does.Not.Contain(row), $"validation example {i} is a test example");
        }
    }

    [Test]
    public void Settings_AreCheckedOnce_NamingTheField()
    {
        void Refused(TrainOptions o, string field, string problem) =>
            Assert.That(() => o.Validate(), Throws.InstanceOf<SettingException>().With.Property("Field").EqualTo(field).And.Message.Contains(problem));
        Refused(new TrainOptions { LearningRate = 0 }, "learning_rate", "must be a positive number at most 1, got 0");
        Refused(new TrainOptions { LearningRate = double.NaN }, "learning_rate", "got NaN");
        Refused(new TrainOptions { LearningRate = 2 }, "learning_rate", "at most 1");
        Refused(new TrainOptions { LearningRate = 1e-50 }, "learning_rate", "got 1E-50");
        Refused(new TrainOptions { ValidationFraction = 0.9 }, "validation_fraction", "must be from 0 to 0.5, got 0.9");
        Refused(new TrainOptions { ValidationFraction = -0.1 }, "validation_fraction", "got -0.1");
        Refused(new TrainOptions { ValidationFraction = double.NaN }, "validation_fraction", "got NaN");
        Refused(new TrainOptions { Patience = 3 }, "patience", "needs a validation split");
        Refused(new TrainOptions { ValidationFraction = 0.1, Patience = 0 }, "patience", "must be from 1 to 1000000, got 0");
        Refused(new TrainOptions { ValidationK = 5 }, "validation_k", "needs a validation split");
        Refused(new TrainOptions { ValidationFraction = 0.1, ValidationK = 0 }, "validation_k", "must be from 1 to 1000000, got 0");
        Assert.That(new TrainOptions { ValidationFraction = 0.5, Patience = 1, ValidationK = 1, LearningRate = 1 }.Validate(), Is.Not.Null);
    }

    [Test]
    public void Defaults_WriteTheSameJsonAsBefore_AndNameTheSchedule()
    {
        string json = IwaeJson.Serialize(new TrainOptions());
        Assert.That(json, Is.EqualTo("{\"stages\":8,\"epochs\":null,\"batch_size\":20,\"seed\":1,\"learning_rate\":0.001,\"beta1\":0.99,\"beta2\":0.999,\"adam_epsilon\":0.0001,\"estimator\":\"iwae\",\"groups\":1,\"beta\":0.5,\"total_epochs\":3280}"));
        var with = new TrainOptions { ValidationFraction = 0.2, ValidationK = 7, Patience = 2 };
        Assert.That(IwaeJson.Deserialize<TrainOptions>(IwaeJson.Serialize(with)), Is.EqualTo(with), "round trip");
        Assert.That(IwaeJson.Serialize(new EpochMetrics(1, 1, 1e-3, -90, 1, 10)), Does.Not.Contain("validation"));

        Assert.That(new TrainOptions { Stages = 5 }.DescribeSchedule(), Is.EqualTo("burda: 5 stages, 121 epochs, lr 0.001 * 10^(-(i-1)/7) in stage i"));
        Assert.That(new TrainOptions { Epochs = 12, LearningRate = 3e-4 }.DescribeSchedule(), Is.EqualTo("constant: 12 epochs at lr 0.0003"));
        Assert.That(new TrainOptions { Epochs = 3, LearningRate = 0.01 }.Schedule(), Is.EqualTo(new[] { (1, 3, 0.01) }));
        Assert.That(new TrainOptions { Stages = 2, LearningRate = 0.01 }.Schedule()[1].LearningRate, Is.EqualTo(0.01 * Math.Pow(10, -1 / 7.0)));
    }

    /// <summary>Trains with <paramref name="options"/>, keeping the weights after every epoch.</summary>
    private static (Trainer Trainer, IReadOnlyList<EpochMetrics> Epochs, Dictionary<int, float[]> WeightsAt) Train(TrainOptions options, Execution? execution = null)
    {
        var model = Model(options);
        var trainer = new Trainer(model, _small, options, execution);
        var weights = new Dictionary<int, float[]>();
        var epochs = trainer.Train(m => weights[m.Epoch] = Flat(model.Parameters));
        return (trainer, epochs, weights);
    }

    /// <summary>Early stopping's rule replayed on the recorded bounds: the epoch it stops after (null: never), the best epoch and bound.</summary>
    private static (int? Stop, int BestEpoch, double Best) Replay(IEnumerable<double> bounds, int patience)
    {
        double best = double.NegativeInfinity;
        int bestEpoch = 0, since = 0, epoch = 0;
        foreach (double b in bounds)
        {
            epoch++;
            if (b > best) (best, bestEpoch, since) = (b, epoch, 0);
            else since++;
            if (since >= patience) return (epoch, bestEpoch, best);
        }
        return (null, bestEpoch, best);
    }

    [Test]
    public void EarlyStopping_StopsWhereTheRuleSays_AndKeepsTheBestEpochsWeights()
    {
        // A rate this large makes the bound wander from epoch to epoch, so the rule has something to stop.
        var options = new TrainOptions { Epochs = 12, Seed = 3, BatchSize = 20, LearningRate = 0.05, ValidationFraction = 0.25, Patience = 2 };
        var (trainer, epochs, weightsAt) = Train(options);
        var bounds = epochs.Select(m => m.ValidationBound!.Value).ToArray();
        var (stop, bestEpoch, best) = Replay(bounds, 2);
        TestContext.Out.WriteLine($"validation bounds: {string.Join(", ", bounds.Select(b => b.ToString("F2")))}; stop after {stop}, best {bestEpoch}");

        Assert.That(stop, Is.Not.Null.And.LessThan(12), "the case stops early (else it tests nothing)");
        Assert.That(epochs, Has.Count.EqualTo(stop), "trained up to the epoch the rule names, no further");
        Assert.That(trainer.StoppedEarly, Is.True);
        Assert.That(trainer.Position.EpochsDone, Is.EqualTo(stop));
        Assert.That(trainer.Validation, Is.EqualTo(new ValidationState(best, bestEpoch, stop!.Value - bestEpoch)));
        Assert.That(bestEpoch, Is.LessThan(stop), "the best epoch is an earlier one, so last and best weights differ");

        Assert.That(Flat(trainer.BestParameters), Is.EqualTo(weightsAt[bestEpoch]), "the best weights are the weights after the best epoch");
        Assert.That(trainer.BestParameters.Select(p => p.Name), Is.All.StartWith("best."));
        Assert.That(trainer.UseBestWeights(), Is.True);
        Assert.That(trainer.ValidationBound(), Is.EqualTo(best), "the model now holds the best weights: its bound is the best bound, to the bit");

        // Trained again, the history is the same, bit for bit (fixed split, fixed noise).
        var again = Train(options).Epochs.Select(m => m.ValidationBound!.Value);
        Assert.That(again, Is.EqualTo(bounds));
    }

    [Test]
    public void WithoutPatience_TheWholeScheduleRuns_AndValidationKIsUsed()
    {
        var options = new TrainOptions { Epochs = 3, Seed = 2, BatchSize = 50, ValidationFraction = 0.1, ValidationK = 1 };
        var (trainer, epochs, _) = Train(options);
        Assert.That(epochs, Has.Count.EqualTo(3));
        Assert.That(trainer.StoppedEarly, Is.False);
        Assert.That((trainer.ValidationImages, trainer.TrainImages), Is.EqualTo((20, 180)));
        Assert.That(trainer.Validation.BestBound, Is.EqualTo(epochs.Max(m => m.ValidationBound!.Value)));

        // k = 1 gives the ELBO, below the bound at k = 3 for the same weights.
        var k3 = new Trainer(Model(options), _small, options with { ValidationK = 3 });
        var k1 = new Trainer(Model(options), _small, options);
        Assert.That(k1.ValidationBound(), Is.LessThan(k3.ValidationBound()));

        var plain = new Trainer(Model(new TrainOptions()), _small, new TrainOptions { Epochs = 1 });
        Assert.That((plain.ValidationImages, plain.TrainImages, plain.BestParameters.Count), Is.EqualTo((0, 200, 0)));
        Assert.That(plain.UseBestWeights(), Is.False);
        Assert.That(double.IsNaN(plain.ValidationBound()));
    }

    [Test]
    public void ValidationBounds_AreTheSameBitsOnAnyThreadCount()
    {
        var options = new TrainOptions { Epochs = 2, Seed = 4, BatchSize = 40, ValidationFraction = 0.3 };
        double[] Bounds(int threads)
        {
            using var execution = new Execution(threads);
            return Train(options, execution).Epochs.Select(m => m.ValidationBound!.Value).ToArray();
        }
        var one = Bounds(1);
        Assert.That(Bounds(3), Is.EqualTo(one));
        Assert.That(Bounds(2), Is.EqualTo(one));
    }

    [Test]
    public void Checkpoint_KeepsTheValidationStateAndBestWeights_AndDefaultsAddNothing()
    {
        string dir = Path.Combine(Path.GetTempPath(), "iwae-val-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var options = new TrainOptions { Epochs = 12, Seed = 3, BatchSize = 20, LearningRate = 0.05, ValidationFraction = 0.25, Patience = 2 };
            var model = Model(options);
            var trainer = new Trainer(model, _small, options);
            trainer.Train();
            string path = Path.Combine(dir, "iwae.safetensors");
            RunCheckpoint.Save(path, model, trainer);
            var read = RunCheckpoint.Read(path);
            Assert.That(read.Metadata["validation.best_epoch"], Is.EqualTo(trainer.Validation.BestEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture)));

            var resumed = new Trainer(read.Model(), _small, read.Options());
            read.Restore(resumed);
            Assert.That(resumed.Validation, Is.EqualTo(trainer.Validation));
            Assert.That(Flat(resumed.BestParameters), Is.EqualTo(Flat(trainer.BestParameters)));
            Assert.That(resumed.StoppedEarly, Is.True);
            Assert.That(resumed.Train(), Is.Empty, "a run that stopped early trains no further when resumed");

            string best = Path.Combine(dir, "iwae-best.safetensors");
            Assert.That(RunCheckpoint.SaveBest(best, model, trainer), Is.True);
            var bestModel = RunCheckpoint.LoadModel(best);
            Assert.That(Flat(bestModel.Parameters), Is.EqualTo(Flat(trainer.BestParameters)));
            Assert.That(RunCheckpoint.Read(best).Metadata["best_epoch"], Is.EqualTo(read.Metadata["validation.best_epoch"]));
            Assert.That(() => RunCheckpoint.Read(best).Options(), Throws.InstanceOf<CheckpointFormatException>(), "a model alone, not resumable");

            var plainOptions = new TrainOptions { Epochs = 1 };
            var plainModel = Model(plainOptions);
            var plain = new Trainer(plainModel, _small, plainOptions);
            plain.Train();
            string plainPath = Path.Combine(dir, "plain.safetensors");
            RunCheckpoint.Save(plainPath, plainModel, plain);
            var data = Checkpoint.Load(plainPath);
            Assert.That(data.Metadata.Keys, Has.None.StartWith("validation"));
            Assert.That(data.Parameters.Keys, Has.None.StartWith("best."));
            Assert.That(data.Metadata["train"], Does.Not.Contain("validation").And.Not.Contain("patience"));
            Assert.That(RunCheckpoint.SaveBest(Path.Combine(dir, "none.safetensors"), plainModel, plain), Is.False);
            Assert.That(File.Exists(Path.Combine(dir, "none.safetensors")), Is.False);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
