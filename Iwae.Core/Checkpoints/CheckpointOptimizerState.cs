namespace Iwae.Core.Checkpoints;

/// <summary>Adam's state as saved in a checkpoint: hyperparameters, step count and the two moments per parameter.</summary>
public sealed class CheckpointOptimizerState
{
    internal CheckpointOptimizerState(long step, float learningRate, float beta1, float beta2, float epsilon,
        IReadOnlyDictionary<string, CheckpointTensor> firstMoments, IReadOnlyDictionary<string, CheckpointTensor> secondMoments)
    {
        Step = step;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        FirstMoments = firstMoments;
        SecondMoments = secondMoments;
    }

    /// <summary>Steps taken (Adam's t), from "optimizer.step".</summary>
    public long Step { get; }

    /// <summary>The learning rate at the time of saving, from "optimizer.lr".</summary>
    public float LearningRate { get; }

    /// <summary>From "optimizer.beta1".</summary>
    public float Beta1 { get; }

    /// <summary>From "optimizer.beta2".</summary>
    public float Beta2 { get; }

    /// <summary>From "optimizer.eps".</summary>
    public float Epsilon { get; }

    /// <summary>First moments (m) by parameter name (stored as "optimizer.m.&lt;name&gt;").</summary>
    public IReadOnlyDictionary<string, CheckpointTensor> FirstMoments { get; }

    /// <summary>Second moments (v) by parameter name (stored as "optimizer.v.&lt;name&gt;").</summary>
    public IReadOnlyDictionary<string, CheckpointTensor> SecondMoments { get; }
}
