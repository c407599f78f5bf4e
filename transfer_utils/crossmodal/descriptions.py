"""Hand-written descriptions of the ten CIFAR-10 classes, for pairing images with sentences.

Each class has eight short sentences about what a photo of it shows. They were written for this
course so that **attributes are shared across classes** (wheels, wings, four legs, fur, feathers,
water, sky, a road, a cabin, size, colour of the scene), meant to help a map learned from some
classes carry over to classes never seen as images (Lampert et al. 2009, attribute-based zero-shot;
Frome et al. 2013, DeViSE); notebook 14 measures how much they add to the class names. No description names another CIFAR-10 class, so the class names of
unseen classes reach the model only through their own sentences. Introduced in notebook 14.
"""

from __future__ import annotations

__all__ = ["CIFAR10_DESCRIPTIONS", "NAME_TEMPLATES"]

#: Templates that turn a class name into a sentence (CLIP's prompt engineering, in miniature).
NAME_TEMPLATES: tuple[str, ...] = ("a photo of a {}.", "a small photo of the {}.", "a blurry picture of a {}.")

CIFAR10_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "airplane": (
        "a large metal aircraft with two long wings flying in the blue sky.",
        "a passenger jet with engines under its wings, seen against clouds.",
        "a white plane with a tail fin parked on the runway of an airport.",
        "a flying machine with wings and a pointed nose high above the ground.",
        "a jet taking off, its wheels just leaving the grey runway.",
        "a small propeller aircraft with wings in a clear sky.",
        "an aircraft with a long body, round windows and a vertical tail.",
        "a military jet with swept wings flying fast through the air.",
    ),
    "automobile": (
        "a small passenger car with four wheels driving on a road.",
        "a shiny red sedan with doors, windows and headlights, parked on the street.",
        "a family vehicle with four rubber tyres and a windscreen.",
        "a sports car with a low body and round wheels on asphalt.",
        "a motor vehicle with a bonnet, a boot and four seats for people.",
        "a compact hatchback on a city road beside the pavement.",
        "a blue car with chrome wheels and side mirrors, seen from the side.",
        "a four-door vehicle with a metal body and glass windows on a road.",
    ),
    "bird": (
        "a small animal with feathers, two wings and a beak perched on a branch.",
        "a feathered creature with thin legs standing in the grass.",
        "a songbird with a short beak sitting on a tree.",
        "a flying animal with spread wings and tail feathers in the sky.",
        "a brown bird with small claws and a pointed beak on the ground.",
        "an ostrich with long legs and a long neck walking on dry land.",
        "a colourful parrot with bright feathers and a curved beak.",
        "a water bird with webbed feet and feathers floating on a pond.",
    ),
    "cat": (
        "a small furry pet with whiskers, pointed ears and a long tail.",
        "a domestic animal with soft fur and four legs curled up on a sofa.",
        "a kitten with green eyes and whiskers sitting indoors.",
        "a furry animal with sharp claws and a small pink nose.",
        "a striped house pet with four paws lying on a blanket.",
        "a small mammal with fur, pointed ears and slit pupils.",
        "a grey tabby with long whiskers looking at the camera.",
        "a four-legged pet that purrs, with a fluffy tail.",
    ),
    "deer": (
        "a wild animal with four long thin legs and antlers standing in a forest.",
        "a brown mammal with hooves and large ears grazing in a meadow.",
        "a graceful animal with a short tail and brown fur among trees.",
        "a fawn with white spots on its brown fur in the grass.",
        "a stag with branching antlers on its head in a field.",
        "a four-legged animal with hooves running through the woods.",
        "a shy wild mammal with a slender neck and a brown coat.",
        "a hoofed animal with a long face eating leaves near the trees.",
    ),
    "dog": (
        "a loyal furry pet with four legs, floppy ears and a wagging tail.",
        "a domestic animal with fur and a wet nose playing with a ball.",
        "a puppy with soft fur sitting on the grass in a garden.",
        "a four-legged pet that barks, on a leash in the park.",
        "a furry mammal with a long snout and paws running outdoors.",
        "a brown and white pet with four paws lying on the floor.",
        "a friendly animal with fur and a collar looking at its owner.",
        "a hunting animal with a muzzle, four legs and a short coat of fur.",
    ),
    "frog": (
        "a small green amphibian with smooth wet skin sitting by a pond.",
        "an animal with long back legs for jumping and bulging eyes.",
        "a slimy creature with webbed feet on a lily pad in the water.",
        "a small animal with moist spotted skin and no fur or feathers.",
        "a brown amphibian crouching on a wet leaf.",
        "a green animal with a wide mouth and big round eyes near water.",
        "a tiny creature that croaks, sitting on a stone in the mud.",
        "a jumping amphibian with four legs and smooth skin in the grass.",
    ),
    "horse": (
        "a large animal with four long legs, hooves and a flowing mane.",
        "a brown mammal with a long face and a tail, standing in a field.",
        "a strong animal with a saddle, ridden by a person.",
        "a tall four-legged animal with hooves galloping across a meadow.",
        "a white mammal with a mane grazing on green grass.",
        "a farm animal with a long neck and short fur next to a fence.",
        "a pony with hooves and a bushy tail in a paddock.",
        "a large grazing mammal with hooves and a bridle, seen from the side.",
    ),
    "ship": (
        "a large boat floating on the blue water of the sea.",
        "a cargo vessel with a long hull sailing across the ocean.",
        "a white passenger boat with decks and a funnel in a harbour.",
        "a big metal vessel on the water near the coast.",
        "a sailing boat with tall masts on the waves.",
        "a tanker with a long grey hull moving on calm water.",
        "a ferry with a cabin and windows crossing a wide river.",
        "a navy vessel with a pointed bow cutting through the waves.",
    ),
    "truck": (
        "a large heavy vehicle with big wheels driving on a highway.",
        "a lorry with a cabin in front and a long cargo box behind.",
        "a red fire engine with a ladder, big tyres and headlights on the road.",
        "a big motor vehicle with six wheels for carrying goods.",
        "a pickup with four wheels and an open cargo bed on a road.",
        "a delivery vehicle with a boxy body and a driver's cabin.",
        "a dump vehicle with large rubber tyres at a building site.",
        "a heavy road vehicle with a trailer, a windscreen and side mirrors.",
    ),
}
